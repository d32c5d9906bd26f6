"""Video: every frame through the image path, out as MP4 (H.264, yuv420p) with the input's timing and sound.

    >>> upscale_video(load_model("fast"), "clip.mkv", "clip_x4.mp4")       # doctest: +SKIP

Reading and writing is PyAV: FFmpeg's libraries in its wheels (so any input FFmpeg reads, libx264 out, and
nothing to install outside PyPI), with packet-level access, which copying audio unchanged and keeping every
frame's own timestamp need (imageio/OpenCV hand out frames only; an ``ffmpeg`` subprocess is a binary PyPI
does not ship).

- **Frames** go through :func:`sr_core.inference.upscale` (the same tiling, ``dtype`` and ``--outscale`` resize as an
  image); an odd output width or height loses its last column or row (yuv420p needs even sizes).
- **Timing**: each output frame keeps its input timestamp in the input's time base, so a fractional rate
  (30000/1001) stays exact and variable-frame-rate input keeps its times.
- **Sound and metadata**: every audio stream is copied packet for packet when MP4 can hold its codec, else
  re-encoded to AAC; the rotation (display matrix) is written back. Subtitle and data streams are dropped.
- **Stages**: decode, upscale and encode run in three threads with small queues between them (PyAV and torch
  release the GIL while they work); ``pipelined=False`` runs them one after another (the benchmark's baseline).
- **Resume**: frames are encoded in chunks of ``chunk_frames``, each a complete MP4 in a work folder beside the
  output (``.<name>.parts/``), written under a temporary name and renamed when complete. ``resume=True`` keeps
  the finished chunks (their frames are decoded, which is cheap, but skip the network). ``job.json`` there
  records the input's size and time and the settings; a resume with anything different is refused.
- **Atomic output**: the chunks' packets are remuxed (not re-encoded) with the audio into ``.<name>.partial``,
  flushed to disk and renamed to the output; the output name only ever holds a complete file.
"""

from __future__ import annotations

import heapq
import io
import json
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

from torch import nn

# what sr-core video uses unless told: real-psnr, i.e. real at detail 0. Of the models made for compressed,
# noisy input it flickers least (0.81x bicubic's frame-to-frame change on a panned still, against 0.94x for the
# photo default real@0.5 and 1.33x for the GAN alone: reports/video/flicker.md), at fast's speed
DEFAULT_VIDEO_MODEL = "real-psnr"
DEFAULT_CHUNK_FRAMES = 48      # frames per resumable chunk (1.6 s at 30 fps; at most this much is redone)
DEFAULT_CRF = 18               # x264 quality: visually near lossless
DEFAULT_PRESET = "medium"
H264_MAX_PIXELS = 139_264 * 256  # H.264 level 6.2's largest frame (MaxFS macroblocks x 256 pixels)
H264_MAX_SIDE = 16_384
OUTPUT_SUFFIXES = (".mp4", ".m4v")
JOB_VERSION = 1

FrameProgressFn = Callable[[int, "int | None"], None]  # (frames done, expected total or None)


class VideoError(ValueError):
    """A bad input or output: its message is one line for the user, naming the file."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` reads: the first video stream, the audio streams, and one decoded frame's rotation."""

    width: int
    height: int
    rate: Fraction          # average frame rate, exact
    time_base: Fraction     # of the video stream's timestamps (kept in the output)
    frames: int | None      # expected frame count (the container's, else duration x rate); None when unknown
    exact_frames: bool      # the container states the count (MP4, MOV, AVI), so a shortfall means truncation
    rotation: int           # degrees counter-clockwise, from the display matrix
    audio: tuple[str, ...]  # codec names of the audio streams


@dataclass
class VideoResult:
    frames: int                     # frames in the output
    upscaled: int                   # of them, run through the network in this call (the rest were resumed)
    seconds: float                  # wall time of this call
    size: tuple[int, int]           # output width, height
    audio_copied: list[str] = field(default_factory=list)
    audio_reencoded: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.upscaled / self.seconds if self.seconds > 0 else 0.0


def _av():
    try:
        import av
    except ImportError:
        raise VideoError("video needs PyAV: pip install av") from None
    return av


# --- reading --------------------------------------------------------------------------------------------------

def probe(src: str | Path, max_pixels: int | None = None) -> VideoInfo:
    """Open ``src``, check it has a decodable video stream of at most ``max_pixels`` per frame, decode one frame.

    Raises :class:`VideoError` (one line) for a missing, empty, unreadable or corrupt file, no video stream, an
    unknown codec, no frames, or frames over the limit.
    """
    av = _av()
    path = Path(src)
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    try:
        with av.open(str(path)) as container:
            return _probe_open(container, path, max_pixels)
    except av.FFmpegError as err:
        raise VideoError(f"{path}: not a video FFmpeg can read, corrupt or truncated ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


def _probe_open(container, path: Path, max_pixels: int | None) -> VideoInfo:
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{path}: unknown video codec (FFmpeg has no decoder for it)")
    w, h = stream.codec_context.width, stream.codec_context.height
    if max_pixels is not None and w * h > max_pixels:
        raise VideoError(f"{path}: {w}x{h} frames exceed the limit of {max_pixels:,} pixels (--max-pixels)")
    first = next(container.decode(stream), None)
    if first is None:
        raise VideoError(f"{path}: the video stream has no frames")
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    frames, exact = _expected_frames(container, stream, rate)
    return VideoInfo(width=first.width, height=first.height, rate=Fraction(rate), time_base=Fraction(stream.time_base),
                     frames=frames, exact_frames=exact, rotation=int(first.rotation or 0),
                     audio=tuple(s.codec_context.name if s.codec_context else "unknown"
                                 for s in container.streams.audio))


def _expected_frames(container, stream, rate: Fraction) -> tuple[int | None, bool]:
    if stream.frames:
        return int(stream.frames), True
    if stream.duration and stream.time_base:
        return max(1, round(stream.duration * stream.time_base * rate)), False
    if container.duration:  # microseconds
        return max(1, round(Fraction(container.duration, 1_000_000) * rate)), False
    return None, False


class _Frames:
    """The decode stage: iterates ``(index, pts, duration, RGB image)`` of the frames still to do.

    Frames of finished chunks (``done``: chunk -> its frame count) are decoded and counted but not handed on;
    :meth:`check` afterwards says whether those counts matched and whether the input ended early.
    """

    def __init__(self, src: Path, info: VideoInfo, chunk_frames: int, done: dict[int, int]):
        self.src, self.info, self.chunk_frames, self.done = src, info, chunk_frames, done
        self.count = 0
        self.seen: dict[int, int] = {}

    def __iter__(self) -> Iterator[tuple[int, int, int, object]]:
        av = _av()
        try:
            with av.open(str(self.src)) as container:
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1  # the cores are the network's (see _ChunkWriter)
                yield from self._decode(container, stream)
        except av.FFmpegError as err:
            raise VideoError(f"{self.src}: corrupt or truncated after frame {self.count} ({_reason(err)})") from None

    def _decode(self, container, stream):
        step = max(1, round(1 / (self.info.rate * self.info.time_base)))  # one frame in time-base ticks
        last = None
        for frame in container.decode(stream):
            index, self.count = self.count, self.count + 1
            pts = frame.pts if frame.pts is not None else (last + step if last is not None else 0)
            pts = pts if last is None or pts > last else last + 1  # strictly increasing, as the encoder needs
            last = pts
            chunk = index // self.chunk_frames
            self.seen[chunk] = self.seen.get(chunk, 0) + 1
            if chunk in self.done:
                continue
            if (frame.width, frame.height) != (self.info.width, self.info.height):  # a size change mid-stream
                frame = frame.reformat(self.info.width, self.info.height)
            yield index, pts, int(frame.duration or step), frame.to_image()

    def check(self) -> None:
        """Raise :class:`VideoError` if the input ended early or the finished chunks do not fit it."""
        info = self.info
        if info.exact_frames and info.frames and self.count < info.frames:
            raise VideoError(f"{self.src}: truncated or corrupt: {self.count} of {info.frames} frames decode")
        wrong = [k for k, n in self.done.items() if self.seen.get(k) != n]
        if wrong:
            raise VideoError(f"{self.src}: the finished chunks of the interrupted run do not match this input "
                             f"(chunk {wrong[0]}); run again without --resume")


# --- the network stage ------------------------------------------------------------------------------------------

def output_size(info: VideoInfo, scale: int, outscale: float | None) -> tuple[int, int]:
    """Output frame size: ``scale`` (or ``outscale``) times the input, made even; refuses sizes H.264 cannot code."""
    factor = outscale if outscale is not None else scale
    w, h = (max(1, round(n * factor)) for n in (info.width, info.height))
    w, h = max(2, w - w % 2), max(2, h - h % 2)
    if w * h > H264_MAX_PIXELS or max(w, h) > H264_MAX_SIDE:
        raise VideoError(f"{info.width}x{info.height} frames at {factor:g}x make {w}x{h}, above H.264's largest "
                         f"frame ({H264_MAX_PIXELS:,} pixels, {H264_MAX_SIDE} per side); use a smaller --outscale")
    return w, h


def _upscaler(model: nn.Module, size: tuple[int, int], outscale: float | None, tile: int | None,
              tile_overlap: int, dtype) -> Callable:
    """The upscale stage: ``(index, pts, duration, image) -> (index, pts, duration, av.VideoFrame)``."""
    from .inference import DEFAULT_OVERLAP, model_scale, resize_to_outscale, upscale

    av = _av()
    scale = model_scale(model)
    overlap = DEFAULT_OVERLAP if tile_overlap is None else tile_overlap

    def run(item):
        index, pts, duration, image = item
        out = upscale(model, image, tile=tile, tile_overlap=overlap, max_pixels=None, dtype=dtype)
        out = resize_to_outscale(out, image.size, outscale, scale)
        if out.size != size:  # an odd side: drop the last column or row
            out = out.crop((0, 0, *size))
        return index, pts, duration, av.VideoFrame.from_image(out)

    return run


# --- writing: chunks, then one remux ----------------------------------------------------------------------------

class _ChunkWriter:
    """One chunk: an H.264 MP4 written under ``chunk_N.tmp`` and renamed to ``chunk_N.mp4`` by :meth:`finish`."""

    def __init__(self, path: Path, info: VideoInfo, size: tuple[int, int], crf: int, preset: str):
        av = _av()
        self.path, self.tmp = path, path.with_suffix(".tmp")
        self.container = av.open(str(self.tmp), "w", format="mp4", options=_mp4_options(info.time_base))
        stream = self.container.add_stream("libx264", rate=info.rate, options={"crf": str(crf), "preset": preset})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.time_base = stream.codec_context.time_base = info.time_base
        stream.codec_context.max_b_frames = 0  # decode order = display order: chunks join with increasing dts
        # one thread: x264's default (1.5 per core) preempts torch's OpenMP workers, which then wait for each
        # other at every barrier; on 2 cores that made the three-stage run slower than one after another
        stream.codec_context.thread_count = 1
        self.stream, self.time_base = stream, info.time_base

    def add(self, frame, pts: int, duration: int) -> None:
        frame.pts, frame.duration, frame.time_base = pts, duration, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        _fsync(self.tmp)
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        try:
            self.container.close()
        except Exception:  # already broken: only the temporary file is left to remove
            pass
        self.tmp.unlink(missing_ok=True)


def _mp4_options(time_base: Fraction, faststart: bool = False) -> dict[str, str]:
    """MP4 muxer options: the movie time scale is the video's, so the edit list that places a first frame later
    than 0 (every chunk but the first) is exact; the default, 1/1000 s, moved a frame at 5005/30000 s to 0.166 s."""
    options = {"movie_timescale": str(time_base.denominator if time_base.denominator < 2 ** 31 else 1000)}
    if faststart:
        options["movflags"] = "+faststart"  # the index first: a browser plays it while it downloads
    return options


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


class _Parts:
    """The work folder beside the output: ``job.json`` and the finished ``chunk_NNNNNN.mp4`` files."""

    def __init__(self, dst: Path, job: dict):
        self.folder = dst.parent / f".{dst.name}.parts"
        self.job = job

    def chunk(self, k: int) -> Path:
        return self.folder / f"chunk_{k:06d}.mp4"

    def finished(self) -> list[Path]:
        return sorted(self.folder.glob("chunk_*.mp4"))

    def prepare(self, resume: bool) -> dict[int, int]:
        """Create the folder, or with ``resume`` check its job and return the finished chunks' frame counts."""
        record = self.folder / "job.json"
        if self.folder.exists() and not resume:
            raise VideoError(f"{self.folder}: an interrupted run's work is there; pass --resume to continue it "
                             "(or delete the folder to start again)")
        if self.folder.exists() and record.exists():
            old = json.loads(record.read_text())
            diff = [k for k in self.job if old.get(k) != self.job[k]]
            if diff:
                raise VideoError(f"--resume: the run in {self.folder} had other settings or input ("
                                 + ", ".join(f"{k}: {old.get(k)!r} then, {self.job[k]!r} now" for k in diff[:3])
                                 + "); give the same settings, or delete the folder to start again")
            return self._scan()
        self.folder.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(self.job, indent=1))
        return {}

    def _scan(self) -> dict[int, int]:
        """Finished chunks and their frame counts; a chunk that does not read back is deleted (it is redone)."""
        done = {}
        for path in self.finished():
            n = _count_packets(path)
            if n:
                done[int(path.stem.split("_")[1])] = n
            else:
                path.unlink()
        return done

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _count_packets(path: Path) -> int:
    av = _av()
    try:
        with av.open(str(path)) as container:
            return sum(1 for p in container.demux(video=0) if p.size)
    except (av.FFmpegError, IndexError):
        return 0


class _Encoder:
    """The encode stage: frames go to chunk ``index // chunk_frames``; a chunk is finished when the next begins."""

    def __init__(self, parts: _Parts, info: VideoInfo, size, crf: int, preset: str, chunk_frames: int,
                 on_frame: Callable[[], None]):
        self.parts, self.info, self.size, self.crf, self.preset = parts, info, size, crf, preset
        self.chunk_frames, self.on_frame = chunk_frames, on_frame
        self.writer: _ChunkWriter | None = None
        self.k = -1

    def __call__(self, item) -> None:
        index, pts, duration, frame = item
        k = index // self.chunk_frames
        if k != self.k:
            self.close()
            self.writer, self.k = _ChunkWriter(self.parts.chunk(k), self.info, self.size, self.crf, self.preset), k
        self.writer.add(frame, pts, duration)
        self.on_frame()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.finish()
            self.writer = None

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.abandon()
            self.writer = None


def _can_copy(stream, video_template) -> bool:
    """Whether MP4 takes ``stream``'s codec as it is (FFmpeg's own check, then a trial header in memory)."""
    av = _av()
    if stream.codec_context is None or stream.codec_context.name not in av.open(io.BytesIO(), "w", format="mp4") \
            .supported_codecs:
        return False
    try:
        with av.open(io.BytesIO(), "w", format="mp4") as trial:
            trial.add_stream_from_template(video_template)
            trial.add_stream_from_template(stream)
            trial.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False


class _AudioTrack:
    """One input audio stream in the output: its packets copied, or (where MP4 cannot hold it) AAC re-encoded."""

    def __init__(self, out, stream, video_template):
        av = _av()
        self.input, self.flushed = stream, False
        self.copy = _can_copy(stream, video_template)
        if self.copy:
            self.output = out.add_stream_from_template(stream)
        else:
            ctx = stream.codec_context
            layout = _named_layout(ctx.layout)
            self.output = out.add_stream("aac", rate=ctx.sample_rate, layout=layout)
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=ctx.sample_rate)

    def packets(self, packet) -> list:
        """The output packets for one input packet (``None``: flush the re-encoder)."""
        if self.copy:
            if packet is None or packet.dts is None or not packet.size:
                return []
            packet.stream = self.output
            return [packet]
        if self.flushed:
            return []
        self.flushed = packet is None
        frames = self.input.decode(packet) if packet is not None else [None]
        out = []
        for frame in frames:
            for resampled in self.resampler.resample(frame):
                out += self.output.encode(resampled)
        return out + (self.output.encode(None) if packet is None else [])


_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _named_layout(layout) -> str:
    """A layout AAC takes: ``layout``'s name, or for an unordered "N channels" the usual order of N."""
    if not layout.name.endswith("channels"):
        return layout.name
    return _LAYOUTS.get(layout.nb_channels, "stereo")


def _seconds(packet) -> Fraction:
    ts = packet.dts if packet.dts is not None else packet.pts
    return ts * packet.time_base if ts is not None else Fraction(0)


def _video_packets(chunks: list[Path], stream) -> Iterator:
    """The chunks' packets in order, each with its duration set to the gap to the next (the last keeps its own)."""
    av = _av()
    template = None
    previous = None
    for path in chunks:
        with av.open(str(path)) as container:
            extradata = container.streams.video[0].codec_context.extradata
            if template is None:
                template = extradata
            elif extradata != template:
                raise VideoError(f"{path}: encoded with other settings than the first chunk; run again without --resume")
            for packet in container.demux(video=0):
                if not packet.size:
                    continue
                packet.stream = stream
                if previous is not None:
                    previous.duration = packet.pts - previous.pts
                    yield previous
                previous = packet
    if previous is not None:
        yield previous


def _audio_packets(container, tracks: list[_AudioTrack]) -> Iterator:
    if not tracks:
        return
    by_index = {t.input.index: t for t in tracks}
    for packet in container.demux([t.input for t in tracks]):
        yield from by_index[packet.stream.index].packets(packet if packet.size else None)
    for t in tracks:  # flushed already by the empty packet demux ends each stream with; the rest now
        yield from t.packets(None)


def _mux(chunks: list[Path], src: Path, rotation: int, time_base: Fraction, out_path: Path) \
        -> tuple[list[str], list[str]]:
    """Write the chunks' video (remuxed) and every audio stream of ``src`` into ``out_path`` (MP4)."""
    av = _av()
    with av.open(str(src)) as inp, av.open(str(chunks[0])) as first, \
            av.open(str(out_path), "w", format="mp4", options=_mp4_options(time_base, faststart=True)) as out:
        video = out.add_stream_from_template(first.streams.video[0])
        if rotation:
            video.set_display_rotation(rotation)
        tracks = [_AudioTrack(out, s, first.streams.video[0]) for s in inp.streams.audio]
        merged = heapq.merge(_video_packets(chunks, video), _audio_packets(inp, tracks), key=_seconds)
        for packet in merged:
            out.mux(packet)
    names = [t.input.codec_context.name if t.input.codec_context else "unknown" for t in tracks]
    return ([n for n, t in zip(names, tracks) if t.copy], [n for n, t in zip(names, tracks) if not t.copy])


# --- the stages together ----------------------------------------------------------------------------------------

_END = object()


def _pipeline(source, work: Callable, sink: Callable, depth: int = 4) -> None:
    """``sink(work(item))`` for each item of ``source``: ``source`` and ``sink`` each in a thread of its own,
    ``work`` in this one, at most ``depth`` items waiting between stages. An exception in any stage (Ctrl-C in
    this thread included) stops the other two, which are joined, and is raised here."""
    stop, errors = threading.Event(), []
    inbox, outbox = queue.Queue(depth), queue.Queue(depth)

    def put(q, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def get(q):
        while not stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                pass
        return _END

    def guarded(body):
        def run():
            try:
                body()
            except BaseException as err:  # handed to the main thread
                errors.append(err)
                stop.set()
        return run

    def produce():
        for item in source:
            if not put(inbox, item):
                return
        put(inbox, _END)

    def consume():
        while (item := get(outbox)) is not _END:
            sink(item)

    threads = [threading.Thread(target=guarded(f), name=f"video-{f.__name__}", daemon=True) for f in (produce, consume)]
    for t in threads:
        t.start()
    try:
        while (item := get(inbox)) is not _END and put(outbox, work(item)):
            pass
        if not errors:
            put(outbox, _END)
        while threads[1].is_alive():  # wait for the encoder, in slices so Ctrl-C still gets through
            threads[1].join(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]


def _sequential(source, work: Callable, sink: Callable) -> None:
    for item in source:
        sink(work(item))


def _job(src: Path, model: nn.Module, label: str, outscale, dtype, crf: int, preset: str, chunk_frames: int) -> dict:
    """What a resumed run must share with the interrupted one: the input and every setting that changes pixels."""
    stat = src.stat()
    checksum = float(sum(p.detach().double().sum() for p in model.parameters()))
    return {"version": JOB_VERSION, "input": src.name, "input_bytes": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
            "model": label, "weights_sum": f"{checksum:.9e}", "outscale": outscale, "dtype": str(dtype),
            "crf": crf, "preset": preset, "chunk_frames": chunk_frames}


def _check_output(dst: Path, overwrite: bool) -> None:
    if dst.suffix.lower() not in OUTPUT_SUFFIXES:
        raise VideoError(f"{dst}: the output is MP4; name it .mp4")
    if dst.is_dir():
        raise VideoError(f"{dst}: is a directory")
    if dst.exists() and not overwrite:
        raise VideoError(f"{dst}: exists (pass --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise VideoError(f"{dst.parent}: no such folder")


def upscale_video(model: nn.Module, src: str | Path, dst: str | Path, *, outscale: float | None = None,
                  tile: int | None = None, tile_overlap: int | None = None, dtype=None, resume: bool = False,
                  overwrite: bool = False, chunk_frames: int = DEFAULT_CHUNK_FRAMES, crf: int = DEFAULT_CRF,
                  preset: str = DEFAULT_PRESET, max_pixels: int | None = None, label: str | None = None,
                  progress: FrameProgressFn | None = None, pipelined: bool = True) -> VideoResult:
    """Upscale the video ``src`` into the MP4 ``dst``; see the module docstring for what is kept and how.

    Args:
        model: any network of this library (or a classical ``Interpolation``).
        outscale, tile, tile_overlap, dtype: as for images (:func:`sr_core.inference.upscale`, the CLI's options).
        resume: keep the finished chunks of an interrupted run with the same input and settings.
        overwrite: replace an existing ``dst``.
        chunk_frames: frames per chunk: the most an interruption can cost.
        crf, preset: libx264's quality and speed.
        max_pixels: refuse inputs with larger frames (None: no limit but H.264's).
        label: the model's name in ``job.json`` (default: its config's name).
        progress: called as ``progress(done, total)`` (``total`` None when unknown) after each frame, and once
            at the start with the frames a resume kept.
        pipelined: decode, upscale and encode in three threads (default), or one after another.

    Raises:
        VideoError: bad input or output (one line); the work folder of an interrupted run is kept for ``resume``.
    """
    src, dst = Path(src), Path(dst)
    _check_output(dst, overwrite)
    info = probe(src, max_pixels)
    from .inference import auto_dtype, model_device, model_scale

    size = output_size(info, model_scale(model), outscale)
    resolved = auto_dtype(model_device(model)) if dtype == "auto" else dtype
    label = label or str(getattr(model, "config", {}).get("name", type(model).__name__))
    parts = _Parts(dst, _job(src, model, label, outscale, resolved, crf, preset, chunk_frames))
    done = parts.prepare(resume)
    frames = _Frames(src, info, chunk_frames, done)
    count = [sum(done.values())]

    def on_frame():
        count[0] += 1
        if progress:
            progress(count[0], info.frames)

    if progress:
        progress(count[0], info.frames)
    start = time.perf_counter()
    encoder = _Encoder(parts, info, size, crf, preset, chunk_frames, on_frame)
    try:
        (_pipeline if pipelined else _sequential)(frames, _upscaler(model, size, outscale, tile, tile_overlap, dtype),
                                                  encoder)
        encoder.close()
        frames.check()
    except VideoError:  # the input is broken: nothing to resume
        encoder.abandon()
        parts.remove()
        raise
    except BaseException:  # Ctrl-C, out of memory, disk full: the finished chunks stay for --resume
        encoder.abandon()
        raise
    audio = _finish(parts, src, info, dst)
    return VideoResult(frames=frames.count, upscaled=frames.count - sum(done.values()),
                       seconds=time.perf_counter() - start, size=size, audio_copied=audio[0], audio_reencoded=audio[1])


def _finish(parts: _Parts, src: Path, info: VideoInfo, dst: Path) -> tuple[list[str], list[str]]:
    """Remux the chunks with the audio into a temporary file beside ``dst``, then rename it to ``dst``."""
    av = _av()
    tmp = dst.parent / f".{dst.name}.partial"
    try:
        audio = _mux(parts.finished(), src, info.rotation, info.time_base, tmp)
        _fsync(tmp)
        os.replace(tmp, dst)
    except (av.FFmpegError, OSError) as err:
        tmp.unlink(missing_ok=True)
        raise VideoError(f"{dst}: could not be written ({_reason(err)}); the upscaled frames are kept in "
                         f"{parts.folder}, run again with --resume") from None
    parts.remove()
    return audio


__all__ = ["DEFAULT_VIDEO_MODEL", "VideoError", "VideoInfo", "VideoResult", "output_size", "probe", "upscale_video"]
