"""The app's Video tab, as plain functions (no server, no browser): its limits, the check run on upload and the
Upscale button's callback, on clips of 7 frames of 64x48 at 30000/1001 fps with a sine in AAC that each test
writes with PyAV (``make_clip`` of tests/test_video.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import gradio as gr  # noqa: E402

from test_video import NTSC, make_clip, read  # noqa: E402  (skips this module without PyAV)

from demo import callbacks, models, ui  # noqa: E402
from demo import video  # noqa: E402
from sr_core.video import DEFAULT_VIDEO_MODEL  # noqa: E402

SIZE = (64, 48)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty weights folder, no Hub, not a Space, default limits, CPU, fresh model caches."""
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(weights))
    for name in ("SR_HUB_REPO", "SPACE_ID", "SR_APP_MAX_PIXELS", "SR_MAX_PIXELS", "SR_VIDEO_MAX_PIXELS",
                 "SR_APP_MAX_VIDEO_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SR_DEVICE", "cpu")
    models.clear_caches()
    yield weights
    models.clear_caches()


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", size=SIZE)


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(gr.Error) as excinfo:
        fn(*args, **kwargs)
    return excinfo.value.message


# --- limits ---------------------------------------------------------------------------------------------------

def test_the_length_limit_local_on_a_space_and_set(monkeypatch):
    assert video.max_seconds() == video.DEFAULT_MAX_SECONDS == 60
    text = video.limit_text()
    assert "Clips up to 60 s" in text and "SR_APP_MAX_VIDEO_SECONDS" in text and "Space" not in text
    monkeypatch.setenv("SPACE_ID", "owner/space")
    assert video.max_seconds() == video.SPACE_MAX_SECONDS == 10
    assert "Clips up to 10 s (this Space's limit" in video.limit_text()
    monkeypatch.setenv("SR_APP_MAX_VIDEO_SECONDS", "2.5")  # the setting wins, on a Space too
    assert video.max_seconds() == 2.5 and "2.5 s" in video.limit_text()
    monkeypatch.setenv("SR_APP_MAX_VIDEO_SECONDS", "0")
    with pytest.raises(ValueError, match="SR_APP_MAX_VIDEO_SECONDS"):
        video.max_seconds()


def test_the_frame_limit_is_the_lower_of_the_apps_and_the_clis(monkeypatch):
    assert video.frame_limit() == (1920 * 1088, "SR_VIDEO_MAX_PIXELS")  # the app's 16 M would make 4x too large
    monkeypatch.setenv("SR_APP_MAX_PIXELS", "100000")
    assert video.frame_limit() == (100_000, "SR_APP_MAX_PIXELS")
    assert "100,000 pixels, SR_APP_MAX_PIXELS" in video.limit_text()


def test_the_tabs_model_is_the_video_default():
    assert DEFAULT_VIDEO_MODEL == "real-psnr"
    assert video.default_model(["real", "real-psnr", "bicubic"]) == "real-psnr"
    assert video.default_model(["real", "bicubic"]) == "real"  # no real-psnr weights: the Upscale tab's default
    assert video.default_model(["bicubic", "nearest"]) == "bicubic"


# --- the check at upload ----------------------------------------------------------------------------------------

def test_upload_check_accepts_a_good_clip(clip):
    line = video.check_upload(str(clip))
    assert line.startswith("clip.mp4: 64×48 px, 7 frames, 0.2 s at 29.97 fps") and "audio: aac" in line
    assert video.check_upload(None) == video.check_upload("") == ""  # a cleared input: nothing to say


def test_upload_check_refuses_a_text_file_renamed_mp4(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("a text file, not a video\n")
    message = refused(video.check_upload, str(notes))
    assert message.startswith("notes.mp4: not a video FFmpeg can read")
    assert str(tmp_path) not in message  # no server paths on the page
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty file" in refused(video.check_upload, str(tmp_path / "empty.mp4"))


def test_upload_check_refuses_a_file_without_video(tmp_path):
    sound = make_clip(tmp_path / "sound.mp4", video=False)
    assert refused(video.check_upload, str(sound)) == "sound.mp4: no video stream"


def test_upload_check_refuses_an_over_long_clip(clip, monkeypatch):
    monkeypatch.setenv("SR_APP_MAX_VIDEO_SECONDS", "0.1")
    message = refused(video.check_upload, str(clip))
    assert message == ("clip.mp4 is 0.2 s long; this app takes clips of at most 0.1 s (SR_APP_MAX_VIDEO_SECONDS). "
                       "Trim it first.")


def test_upload_check_refuses_frames_over_the_pixel_limit(clip, monkeypatch):
    monkeypatch.setenv("SR_APP_MAX_PIXELS", "3000")  # 64 x 48 = 3072
    message = refused(video.check_upload, str(clip))
    assert "64x48 frames exceed the limit of 3,000 pixels (SR_APP_MAX_PIXELS); scale the clip down first" in message
    assert "--max-pixels" not in message


# --- the Upscale button -----------------------------------------------------------------------------------------

def test_upscale_video_keeps_frames_and_sound_at_4x(clip, tmp_path):
    calls = []

    def progress(value, desc=None, **kwargs):
        calls.append((value, desc))

    player, download, summary = video.upscale_video(str(clip), "bicubic", 4, progress=progress)
    assert player == download and player.endswith("clip_bicubic_x4.mp4")
    a, b = read(clip), read(player)
    assert (b["codec"], b["pix_fmt"]) == ("h264", "yuv420p")
    assert len(b["rgb"]) == len(a["rgb"]) == 7
    assert b["rgb"][0].shape == (4 * SIZE[1], 4 * SIZE[0], 3)
    assert b["rate"] == NTSC and b["times"] == a["times"]
    assert b["audio"] == a["audio"] and b["samples"][0] > 0  # the AAC packets copied unchanged
    for text in ("**bicubic** ×4", "64×48 → **256×192** px", "**7** frames at 29.97 fps", "frames/s", "aac copied",
                 " KB"):
        assert text in summary, text
    assert calls[0] == (0.0, "loading bicubic") and calls[-1] == (1.0, "done")
    assert (1.0, "bicubic: frame 7/7") in calls  # one report per frame
    assert not any(p.name.startswith(".") for p in Path(player).parent.iterdir())  # no work folder left


def test_upscale_video_at_2x_and_the_default_model(clip):
    player, _, summary = video.upscale_video(str(clip), "", "x2")  # no model: the tab's default (here bicubic)
    assert read(player)["rgb"][0].shape == (2 * SIZE[1], 2 * SIZE[0], 3)
    assert "**bicubic** ×2" in summary and "128×96" in summary


def test_upscale_video_refuses_bad_requests_with_one_line(clip, tmp_path, monkeypatch):
    assert refused(video.upscale_video, None, "bicubic") == "No video: upload a video file first."
    assert "Unknown model" in refused(video.upscale_video, str(clip), "no-such-model")
    assert "Output scale must be one of" in refused(video.upscale_video, str(clip), "bicubic", 5)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    assert refused(video.upscale_video, str(notes), "bicubic").startswith("notes.mp4: not a video")
    monkeypatch.setenv("SR_APP_MAX_VIDEO_SECONDS", "0.1")
    assert "at most 0.1 s" in refused(video.upscale_video, str(clip), "bicubic")


def test_a_clip_longer_than_its_header_says_is_stopped(clip, monkeypatch):
    """A clip whose length is unknown from its header (or understated) is stopped once it runs past the limit."""
    monkeypatch.setenv("SR_APP_MAX_VIDEO_SECONDS", "0.1")  # 3 frames at 29.97 fps; stopped after 5
    monkeypatch.setattr(video, "clip_seconds", lambda info: None)
    message = refused(video.upscale_video, str(clip), "bicubic")
    assert message.startswith("clip.mp4 runs past 0.1 s") and "SR_APP_MAX_VIDEO_SECONDS" in message


def test_progress_reaches_gradio_from_the_encoder_thread():
    """upscale_video reports from its encoder thread; the hook runs the report in the request's context, where
    Gradio keeps what a gr.Progress reports to (a context variable a new thread does not see)."""
    import contextvars
    import threading

    var = contextvars.ContextVar("request", default=None)
    seen = []
    var.set("request 1")
    hook = video._frame_progress(lambda value, desc=None, **kw: seen.append((var.get(), desc)), "m", budget=10)
    thread = threading.Thread(target=hook, args=(1, 2))
    thread.start()
    thread.join()
    assert seen == [("request 1", "m: frame 1/2")]
    with pytest.raises(video._TooLong):
        hook(11, 20)


# --- the tab ----------------------------------------------------------------------------------------------------

def test_the_video_tab_and_its_endpoint():
    calls = []
    demo = ui.build_ui(list_models=lambda: ["real", "real-psnr", "bicubic"],
                       video_fn=lambda *args, **kwargs: calls.append(args))
    blocks = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert blocks["video-model"].value == "real-psnr" and blocks["video-detail"].visible is False
    assert blocks["video-file"].visible is False  # the download appears with a result
    assert "SR_APP_MAX_VIDEO_SECONDS" in blocks["video-limit"].value
    endpoints = demo.get_api_info()["named_endpoints"]
    params = {p["parameter_name"]: p for p in endpoints["/upscale_video"]["parameters"]}
    assert list(params) == ["video", "model_name", "scale", "detail"]
    assert params["scale"]["parameter_default"] == 4 and params["detail"]["parameter_default"] == 0.5
    # the upload check runs queued with the other checks (Gradio shows no error from an unqueued event);
    # a refused clip is then removed from the input
    check = next(fn for fn in demo.fns.values() if fn.fn is video.check_upload)
    assert check.queue and check.concurrency_id == "checks"
    assert [t[1] for t in check.targets] == ["change"]  # an upload, and a clip trimmed in the browser
    removal = next(fn for fn in demo.fns.values() if fn.fn is ui.no_video)
    assert removal.trigger_only_on_failure
    run = next(fn for fn in demo.fns.values() if fn.api_name == "upscale_video")
    assert run.concurrency_id == "model"  # one model run at a time, with the image tabs
    assert calls == []  # building calls nothing
    player, summary, download = ui.clear_video()
    assert player is None and summary == "" and download.visible is False
