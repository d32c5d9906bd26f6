"""The app's Video tab, as plain functions that can be tested without a browser.

Every frame goes through the image path and out as an MP4 (H.264) with the input's timing and sound, by
:func:`sr_core.video.upscale_video` (what ``sr-core video`` runs). Here: the limits, the check run when a clip is
uploaded, and the callback of the tab's button (``/upscale_video``). Bad input raises ``gr.Error`` with one line
for the user (server paths replaced by the file's name).

Settings (environment variables):

``SR_APP_MAX_VIDEO_SECONDS``  longest clip the Video tab accepts, in seconds; default 60, or 10 on a Hugging
                              Face Space (``SPACE_ID`` set), where CPU time is shared
``SR_APP_MAX_PIXELS``         (demo/callbacks.py) also limits each frame, as does the CLI's ``SR_VIDEO_MAX_PIXELS``
                              (default 1920x1088, whose 4x output H.264 can still code): the lower of the two holds
"""

from __future__ import annotations

import contextvars
import html
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import gradio as gr

from sr_core import config
from sr_core.detail import detail_label
from sr_core.inference import model_scale
from sr_core.video import DEFAULT_VIDEO_MODEL, VideoError, VideoInfo, output_size, probe
from sr_core.video import upscale_video as sr_upscale_video

from . import callbacks, models

DEFAULT_MAX_SECONDS = 60.0  # run locally: a minute of video
SPACE_MAX_SECONDS = 10.0    # on a Space: 300 frames at 30 fps is already minutes of shared CPU
FRAME_SLACK = 1.05          # a clip whose header understates its length is stopped 5 % past the limit

VideoInput = Any  # a path (what gr.Video hands over), a FileData-like object or a dict with "path"/"video"


def max_seconds() -> float:
    """The longest clip accepted: ``SR_APP_MAX_VIDEO_SECONDS``; else 60 s, or 10 s on a Space."""
    value = os.environ.get("SR_APP_MAX_VIDEO_SECONDS")
    if value:
        seconds = float(value)
        if not seconds > 0:
            raise ValueError(f"SR_APP_MAX_VIDEO_SECONDS must be a positive number of seconds, not {value!r}")
        return seconds
    return SPACE_MAX_SECONDS if callbacks.on_space() else DEFAULT_MAX_SECONDS


def frame_limit() -> tuple[int, str]:
    """The most pixels per frame, and the setting that sets it: the app's image limit (``SR_APP_MAX_PIXELS``) or
    the CLI's video limit (``SR_VIDEO_MAX_PIXELS``, 1920x1088 by default), whichever is lower."""
    app, cli = callbacks.app_max_pixels(), config.max_video_pixels()
    return (app, "SR_APP_MAX_PIXELS") if app <= cli else (cli, "SR_VIDEO_MAX_PIXELS")


def limit_text() -> str:
    """The Video tab's limits in words, shown on the page before anyone uploads."""
    seconds, (pixels, setting) = max_seconds(), frame_limit()
    where = "this Space's limit" if callbacks.on_space() else "the limit"
    return (f"Clips up to {seconds:g} s ({where}, SR_APP_MAX_VIDEO_SECONDS) with frames up to "
            f"{pixels / 1e6:.3g} megapixels ({pixels:,} pixels, {setting}). The output is an MP4 (H.264) with the "
            "input's frame timing and sound.")


def default_model(choices: list[str] | None = None) -> str:
    """The tab's model: ``sr_core.video.DEFAULT_VIDEO_MODEL`` (real-psnr, the steadiest from frame to frame on
    compressed, noisy input) when it can run, else the Upscale tab's default."""
    choices = models.model_choices() if choices is None else choices
    return DEFAULT_VIDEO_MODEL if DEFAULT_VIDEO_MODEL in choices else models.default_model(choices)


# --- the uploaded clip --------------------------------------------------------------------------------------------

def _path(video: VideoInput) -> Path | None:
    """A path from what gr.Video (or an API caller) hands over; None when there is no video."""
    if isinstance(video, dict):
        video = video.get("video") or video.get("path")
        if isinstance(video, dict):
            video = video.get("path")
    if video is not None and not isinstance(video, (str, Path)):
        video = getattr(video, "path", None) or getattr(video, "name", None)
    return Path(video) if video not in (None, "") else None


def _message(err: Exception, path: Path, folder: Path | None = None) -> str:
    """A ``VideoError`` for the page: file names instead of server paths, settings instead of CLI options."""
    text = str(err).replace(str(path), path.name)
    if folder is not None:
        text = text.replace(f"{folder}{os.sep}", "").replace(str(folder), "the output folder")
    text = re.sub(r"; the upscaled frames are kept in .*$", "", text)
    text = text.replace("(--max-pixels)", f"({frame_limit()[1]}); scale the clip down first")
    text = text.replace("use a smaller --outscale", "choose a smaller output scale")
    return html.escape(text)


def clip_seconds(info: VideoInfo) -> float | None:
    """The clip's length from its frame count (stated or estimated) and frame rate; None when unknown."""
    return float(info.frames / info.rate) if info.frames and info.rate else None


def check_video(video: VideoInput) -> tuple[Path, VideoInfo]:
    """Open an uploaded clip and check it against the limits; ``gr.Error`` (one line) if it is unusable:
    unreadable or not a video, no video stream, frames over the pixel limit, longer than ``max_seconds()``."""
    path = _path(video)
    if path is None:
        raise callbacks._error("No video: upload a video file first.")
    limit, _ = frame_limit()
    try:
        info = probe(path, limit)
    except VideoError as err:
        raise callbacks._error(_message(err, path)) from None
    seconds, longest = clip_seconds(info), max_seconds()
    if seconds is not None and seconds > longest:
        raise callbacks._error(f"{html.escape(path.name)} is {seconds:.1f} s long; this app takes clips of at most "
                               f"{longest:g} s (SR_APP_MAX_VIDEO_SECONDS). Trim it first.")
    return path, info


def describe(path: Path, info: VideoInfo) -> str:
    """One Markdown line on an accepted clip: size, frames, length, rate, sound."""
    seconds = clip_seconds(info)
    length = f"{info.frames} frames, {seconds:.1f} s" if seconds is not None else "length unknown"
    audio = ", ".join(info.audio) if info.audio else "no sound"
    return (f"{html.escape(path.name)}: {info.width}×{info.height} px, {length} at {float(info.rate):.4g} fps; "
            f"audio: {audio}")


def check_upload(video: VideoInput) -> str:
    """Run when a clip is uploaded: ``gr.Error`` at once if it cannot be used, else a line describing it."""
    if _path(video) is None:
        return ""
    return describe(*check_video(video))


# --- the Upscale button -------------------------------------------------------------------------------------------

class _TooLong(Exception):
    """Raised by the progress hook when a clip runs past the limit that its header said it was within."""


def _frame_progress(progress, name: str, budget: int):
    """``upscale_video``'s ``progress(done, total)`` hook: reports to ``progress`` (a ``gr.Progress``) and stops a
    run past ``budget`` frames. The hook is called from the encoder's thread, which does not inherit this thread's
    context variables (where Gradio keeps the request a ``gr.Progress`` reports to), so it runs in a copy of them."""
    context = contextvars.copy_context()

    def hook(done: int, total: int | None) -> None:
        if done > budget:
            raise _TooLong(done)
        if progress is None:
            return
        if total:
            context.run(progress, min(1.0, done / total), desc=f"{name}: frame {done}/{total}")
        else:
            context.run(progress, (done, None), desc=f"{name}: frame {done}", unit="frames")

    return hook


def upscale_video(video: VideoInput, model_name: str | None = None, out_scale: int | str | None = 4,
                  detail: float | None = None, progress=None, folder: Path | None = None) -> tuple[str, str, str]:
    """Upscale an uploaded clip; return (the MP4 for the player, the same file for download, a summary line).

    Args:
        model_name: a name of ``models.model_choices()``; empty or None: ``default_model()`` (``real-psnr``).
        out_scale: 2, 3 or 4 (or "x2", ...): the output size over the input's; a 4x model's frames are resized
            with Lanczos for 2 and 3. None: the model's scale.
        detail: ``real`` only: 0 (smooth, ``real-psnr``) to 1 (the GAN's texture, which flickers most).
        folder: where to write (default: a new per-request folder).

    ``progress`` (e.g. a ``gr.Progress``) is called after each frame.
    """
    name = callbacks.resolve_model(model_name or default_model())
    out_scale, _ = callbacks.check_format(out_scale, "PNG")
    detail = callbacks.check_detail(name, detail)
    path, info = check_video(video)
    if progress is not None:
        progress(0.0, desc=f"loading {name}")
    model = callbacks.load(name, detail)
    scale = out_scale or model_scale(model)
    outscale = None if scale == model_scale(model) else scale
    try:
        output_size(info, model_scale(model), outscale)
    except VideoError as err:
        raise callbacks._error(_message(err, path)) from None
    own_folder = folder is None
    folder = callbacks.request_dir("video-") if folder is None else folder
    label = name if detail is None else detail_label(name, detail)
    dst = folder / f"{callbacks._stem(str(path))}_{label}_x{scale}.mp4"
    budget = int(max_seconds() * float(info.rate) * FRAME_SLACK) + 2
    t0 = time.perf_counter()
    try:
        result = sr_upscale_video(model, path, dst, outscale=outscale, dtype="auto", label=label, overwrite=True,
                                  progress=_frame_progress(progress, name, budget))
    except VideoError as err:
        _discard(folder, own_folder)
        raise callbacks._error(_message(err, path, folder)) from None
    except _TooLong:
        _discard(folder, own_folder)
        raise callbacks._error(f"{html.escape(path.name)} runs past {max_seconds():g} s (more than {budget - 2} "
                               f"frames at {float(info.rate):.4g} fps); this app takes clips of at most "
                               f"{max_seconds():g} s (SR_APP_MAX_VIDEO_SECONDS). Trim it first.") from None
    except BaseException:
        _discard(folder, own_folder)
        raise
    seconds = time.perf_counter() - t0
    if progress is not None:
        progress(1.0, desc="done")
    return str(dst), str(dst), summary(name, detail, scale, info, result, seconds, dst)


def _discard(folder: Path, own: bool) -> None:
    if own:
        shutil.rmtree(folder, ignore_errors=True)


def summary(name: str, detail: float | None, scale: int, info: VideoInfo, result, seconds: float, dst: Path) -> str:
    """One Markdown line under the player: model, sizes, frames, time and speed, sound, file size."""
    (ow, oh), rate = result.size, float(info.rate)
    with_detail = f" (detail {detail:g})" if detail is not None else ""
    sound = ", ".join([f"{a} copied" for a in result.audio_copied]
                      + [f"{a} re-encoded to AAC" for a in result.audio_reencoded]) or "none in the input"
    fps = result.frames / seconds if seconds > 0 else math.inf
    return (f"**{name}**{with_detail} ×{scale}: {info.width}×{info.height} → **{ow}×{oh}** px, "
            f"**{result.frames}** frames at {rate:.4g} fps in **{seconds:.1f} s** ({fps:.2f} frames/s) on "
            f"{models.device()}; audio: {sound}; MP4 {_file_size(dst)}")


def _file_size(path: Path) -> str:
    """As the download box counts it: KB below a megabyte, else MB (of 1024)."""
    size = path.stat().st_size
    return f"{size / 2 ** 10:.1f} KB" if size < 2 ** 20 else f"{size / 2 ** 20:.1f} MB"
