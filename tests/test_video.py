"""``sr-core video`` and :mod:`sr_core.video`: timing, sound, rotation, resume and bad inputs, on clips of a few
32x24 frames that each test writes with PyAV (H.264 at 30000/1001 fps with a 440 Hz sine in AAC, unless it says
otherwise). Most runs use ``bicubic`` (no network to wait for); the content test uses a tiny random SRResNet."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import _tiny_srresnet, smooth_rgb

av = pytest.importorskip("av")

from sr_core import load_model, upscale  # noqa: E402
from sr_core.video import VideoError, upscale_video  # noqa: E402

NTSC = Fraction(30000, 1001)


def _frame(i: int, w: int, h: int) -> np.ndarray:
    return np.roll(smooth_rgb(w, h, seed=3), 2 * i, axis=1)  # a picture moving 2 px a frame


def _sine(n: int, rate: int = 48000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)[None]


def make_clip(path, frames: int = 7, size=(32, 24), rate=NTSC, pts=None, time_base=None, audio="aac",
              rotation: int = 0, video: bool = True):
    """Write a clip: ``frames`` frames at ``rate`` (or at explicit ``pts`` in ``time_base``), a mono sine as long
    as the video in ``audio`` (None: silent), ``rotation`` degrees in the display matrix."""
    w, h = size
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=rate) if video else None
        if v is not None:
            v.width, v.height, v.pix_fmt = w, h, "yuv420p"
            if time_base:
                v.time_base = v.codec_context.time_base = time_base
            if rotation:
                v.set_display_rotation(rotation)
        a = c.add_stream(audio, rate=48000, layout="mono") if audio else None
        c.start_encoding()
        for i in range(frames if video else 0):
            f = av.VideoFrame.from_ndarray(_frame(i, w, h), format="rgb24")
            f.pts, f.time_base = (pts[i], time_base) if pts else (i, 1 / rate)
            for p in v.encode(f):
                c.mux(p)
        if v is not None:
            for p in v.encode():
                c.mux(p)
        if a is not None:
            _write_audio(c, a, int(48000 * (frames or 7) / rate))
    return path


def _write_audio(container, stream, n: int) -> None:
    x = _sine(n)
    fmt = stream.codec_context.format.name
    if fmt == "u8":
        x = np.round(x * 127 + 128).astype(np.uint8)
    size = stream.codec_context.frame_size or 1024
    for k in range(0, n, size):
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, k:k + size]), format="u8" if fmt == "u8" else "flt",
                                       layout="mono")
        f.sample_rate, f.pts = 48000, k
        for p in stream.encode(f):
            container.mux(p)
    for p in stream.encode():
        container.mux(p)


def read(path) -> dict:
    """What a test compares: video frames (RGB arrays), their times, rate, rotation, audio packets and samples."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        out = {"rate": v.average_rate, "codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
               "times": [f.pts * f.time_base for f in frames], "rotation": frames[0].rotation,
               "rgb": [f.to_ndarray(format="rgb24") for f in frames], "audio": []}
    with av.open(str(path)) as c:
        for s in c.streams.audio:
            packets = [bytes(p) for p in c.demux(s) if p.size]
            out["audio"].append({"codec": s.codec_context.name, "packets": packets})
    with av.open(str(path)) as c:
        out["samples"] = [sum(f.samples for f in c.decode(s)) for s in c.streams.audio]
    return out


@pytest.fixture(scope="module")
def bicubic4():
    return load_model("bicubic")


def test_keeps_frames_rate_audio_and_rotation(tmp_path, cli):
    src = make_clip(tmp_path / "in.mp4", rotation=90)
    dst = tmp_path / "out.mp4"
    result = cli("video", src, "-o", dst, "--model", "bicubic", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "aac copied" in result.stdout
    a, b = read(src), read(dst)
    assert (b["codec"], b["pix_fmt"]) == ("h264", "yuv420p")
    assert b["rgb"][0].shape == (96, 128, 3)
    assert len(b["rgb"]) == len(a["rgb"]) == 7
    assert b["rate"] == NTSC  # exactly, not 29.97
    assert b["times"] == a["times"]
    assert b["rotation"] == 90
    assert b["audio"] == a["audio"]  # every packet copied unchanged
    assert b["samples"] == a["samples"] and a["samples"][0] > 0


def test_variable_frame_rate_keeps_timestamps(tmp_path, bicubic4):
    pts = [0, 33, 83, 183, 216, 266, 366]  # milliseconds, irregular gaps
    src = make_clip(tmp_path / "vfr.mkv", pts=pts, time_base=Fraction(1, 1000), audio=None)
    result = upscale_video(bicubic4, src, tmp_path / "out.mp4")
    assert result.frames == 7
    assert read(tmp_path / "out.mp4")["times"] == [Fraction(p, 1000) for p in pts]
    assert read(tmp_path / "out.mp4")["audio"] == []


def test_frames_equal_the_image_path(tmp_path):
    """Each output frame is what ``upscale`` makes of the decoded input frame, within H.264's error (compared after
    the same RGB -> yuv420p -> RGB conversion, which alone moves this tiny textured frame by ~3 grey levels), and
    clearly not bicubic's (the model adds ~15 grey levels of its own)."""
    model = _tiny_srresnet(tail_gain=1.0)
    src = make_clip(tmp_path / "in.mp4", frames=4, audio=None)
    upscale_video(model, src, tmp_path / "out.mp4", outscale=3, crf=10)
    out = read(tmp_path / "out.mp4")["rgb"]
    with av.open(str(src)) as c:
        inputs = [f.to_image() for f in c.decode(video=0)]
    assert len(out) == len(inputs) == 4
    for frame, image in zip(out, inputs):
        expected = _yuv420(upscale(model, image).resize((96, 72), resample=1))  # Lanczos, as --outscale
        bicubic = _yuv420(image.resize((96, 72), resample=3))
        assert frame.shape == expected.shape
        assert np.abs(frame.astype(float) - expected).mean() < 1.5
        assert np.abs(frame.astype(float) - bicubic).mean() > 8.0  # measured: 13.9


def _yuv420(image) -> np.ndarray:
    return av.VideoFrame.from_image(image).reformat(format="yuv420p").to_ndarray(format="rgb24").astype(float)


def test_audio_mp4_cannot_hold_is_reencoded(tmp_path, bicubic4):
    src = make_clip(tmp_path / "in.mkv", audio="pcm_u8")
    result = upscale_video(bicubic4, src, tmp_path / "out.mp4")
    assert (result.audio_copied, result.audio_reencoded) == ([], ["pcm_u8"])
    a, b = read(src), read(tmp_path / "out.mp4")
    assert b["audio"][0]["codec"] == "aac"
    assert abs(b["samples"][0] - a["samples"][0]) <= 2048  # AAC pads to whole 1024-sample frames


class Interrupt(KeyboardInterrupt):
    pass


def _interrupt_after(n: int):
    def progress(done, total):
        if done >= n:
            raise Interrupt
    return progress


def test_resume_after_interruption_redoes_no_finished_chunk(tmp_path, bicubic4):
    src = make_clip(tmp_path / "in.mp4", frames=10)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(bicubic4, src, dst, chunk_frames=3, progress=_interrupt_after(7), pipelined=False)
    parts = tmp_path / ".out.mp4.parts"
    assert not dst.exists()
    assert sorted(p.name for p in parts.iterdir()) == ["chunk_000000.mp4", "chunk_000001.mp4", "job.json"]
    with pytest.raises(VideoError, match="--resume"):  # never silently thrown away
        upscale_video(bicubic4, src, dst, chunk_frames=3)
    result = upscale_video(bicubic4, src, dst, chunk_frames=3, resume=True)
    assert (result.frames, result.upscaled) == (10, 4)  # chunks 0 and 1 (6 frames) kept
    assert not parts.exists()
    a, b = read(src), read(dst)
    assert b["times"] == a["times"] and b["audio"] == a["audio"] and b["samples"] == a["samples"]


def test_resume_redoes_a_damaged_chunk_and_ignores_a_partial_one(tmp_path, bicubic4):
    """What kill -9 or a power cut can leave: a chunk's temporary file, a chunk file that does not read back."""
    src = make_clip(tmp_path / "in.mp4", frames=8, audio=None)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(bicubic4, src, dst, chunk_frames=2, progress=_interrupt_after(7))
    parts = tmp_path / ".out.mp4.parts"
    (parts / "chunk_000001.mp4").write_bytes(b"\0" * 100)  # damaged
    (parts / "chunk_000003.tmp").write_bytes(b"\0" * 100)   # half written
    result = upscale_video(bicubic4, src, dst, chunk_frames=2, resume=True)
    assert result.frames == 8
    assert result.upscaled == 4  # chunks 0 and 2 kept; 1 (damaged) and 3 (never finished) redone
    assert read(dst)["times"] == read(src)["times"]


def test_resume_with_other_settings_is_refused(tmp_path, bicubic4):
    src = make_clip(tmp_path / "in.mp4", frames=6, audio=None)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(bicubic4, src, dst, chunk_frames=2, progress=_interrupt_after(3))
    with pytest.raises(VideoError, match="outscale"):
        upscale_video(bicubic4, src, dst, chunk_frames=2, resume=True, outscale=2)
    assert (tmp_path / ".out.mp4.parts" / "chunk_000000.mp4").exists()  # the refused resume kept the work


def _corrupt(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())


def _truncated(path):
    full = make_clip(path.with_name("full.mp4"), frames=20)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])


def _truncated_faststart(path):  # the index first, so it opens; the frames stop half way
    with av.open(str(path.with_name("full.mp4")), "w", options={"movflags": "+faststart"}) as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height = 32, 24
        for i in range(20):
            f = av.VideoFrame.from_ndarray(_frame(i, 32, 24), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    data = path.with_name("full.mp4").read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _unknown_codec(path):  # an AVI whose FourCC no decoder knows
    with av.open(str(path.with_name("m.avi")), "w") as c:
        v = c.add_stream("mjpeg", rate=10)
        v.width, v.height, v.pix_fmt = 32, 24, "yuvj420p"
        for i in range(3):
            f = av.VideoFrame.from_ndarray(_frame(i, 32, 24), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    path.write_bytes(path.with_name("m.avi").read_bytes().replace(b"MJPG", b"QQQQ"))


BAD_INPUTS = {
    "corrupt.mp4": (_corrupt, "not a video FFmpeg can read"),
    "truncated.mp4": (_truncated, "not a video FFmpeg can read"),
    "truncated_faststart.mp4": (_truncated_faststart, "truncated"),
    "audio_only.m4a": (lambda p: make_clip(p, video=False), "no video stream"),
    "zero_frames.mkv": (lambda p: make_clip(p, frames=0), "no frames"),
    "unknown_codec.avi": (_unknown_codec, "unknown video codec"),
    "empty.mp4": (lambda p: p.write_bytes(b""), "empty file"),
    "missing.mp4": (lambda p: None, "no such file"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_fails_cleanly(tmp_path, cli, name):
    make, message = BAD_INPUTS[name]
    make(tmp_path / name)
    dst = tmp_path / "out.mp4"
    result = cli("video", tmp_path / name, "-o", dst, "--model", "bicubic", "--quiet")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert not dst.exists()
    assert not any(p.name.startswith(".out.mp4") for p in tmp_path.iterdir())  # no parts, no partial file


def test_frame_size_over_the_limit_is_refused(tmp_path, cli):
    src = make_clip(tmp_path / "in.mp4", frames=2, audio=None)
    result = cli("video", src, "-o", tmp_path / "out.mp4", "--model", "bicubic", "--max-pixels", "500", "--quiet")
    assert result.returncode == 1 and "32x24 frames exceed the limit of 500 pixels" in result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_existing_output_is_kept(tmp_path, cli):
    src = make_clip(tmp_path / "in.mp4", frames=2, audio=None)
    (tmp_path / "out.mp4").write_bytes(b"mine")
    result = cli("video", src, "-o", tmp_path / "out.mp4", "--model", "bicubic", "--quiet")
    assert result.returncode == 1 and "--overwrite" in result.stderr
    assert (tmp_path / "out.mp4").read_bytes() == b"mine"
