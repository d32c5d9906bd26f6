"""What the app does, as plain functions that can be tested without a browser.

Each function takes an image (a path, as the app's ``gr.Image(type="filepath")``
hands it over, or a ``PIL.Image``) and a model name, and returns images and
plain dicts. Bad input raises ``gr.Error`` with a message meant for the user:
no image, a file that is not a readable image, too many pixels, an unknown
model or one whose weights are missing.

Settings (environment variables):

``SR_APP_MAX_PIXELS``  largest input (width x height) the app accepts; default: what
                       the CLI accepts (``SR_MAX_PIXELS``, 16 M), or 2,000,000 on a
                       Hugging Face Space (``SPACE_ID`` set), where CPU time is shared
``SR_APP_TILE``        tile side in input pixels for the Upscale tab (default 256;
                       0 turns tiling off); each tile advances the progress bar
"""

from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Union

import gradio as gr
import numpy as np
from PIL import Image

import sr_core
from sr_core import config
from sr_core.data import degrade, mod_crop
from sr_core.detail import DETAIL_PAIRS, detail_label
from sr_core.detail import check_detail as sr_check_detail
from sr_core.inference import DEFAULT_OVERLAP, model_scale
from sr_core.inference import resize_to_outscale
from sr_core.io import (HIGH_BIT_MODES, ImageLoadError, check_pixels, image_metadata, open_image, save_image, to_image,
                        to_tensor)
from sr_core.nets import NET_PRESETS

from . import custom_models, models

SPACE_MAX_PIXELS = 2_000_000  # the default on a Space: a 1600x1200 photo; 4x gives 32 Mpx in about a minute
DEFAULT_TILE = 256
CATDOG_SIZE = 128  # the cat/dog preset's HR side; its LR is CATDOG_SIZE // scale (32 for 4x)
COMPARE_PRESETS = {
    "standard": "HR = your image (cropped to a multiple of the scale), LR = bicubic downscale",
    "realistic": "HR = your image, LR = the realistic degradation (blur, resize, noise, JPEG; "
                 "sr_core.degradations, fixed seed)",
    "catdog32": f"HR = whole image resized to {CATDOG_SIZE}x{CATDOG_SIZE}, LR = bicubic downscale to 32x32",
}
REALISTIC_SEED = 0  # the "realistic" preset's draw of sr_core.degradations (preset "real", index 0)
KEEP_SECONDS = 3600  # per-request output folders older than this are deleted
ZOOM_DISPLAY = 320  # zoomed crops are enlarged (nearest neighbour) to at least this many pixels

OUTPUT_SCALES = (2, 3, 4)  # the Upscale tab's choices; a 4x model's output is resized (Lanczos) for 2 and 3
OUTPUT_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WebP": ".webp"}  # PNG lossless; JPEG/WebP at quality 95
LARGE_OUTPUT_PIXELS = 4_000_000  # larger outputs are offered in a second format too (PNG and a JPEG, or the reverse)
PREVIEW_SIDE = 4096  # the before/after slider shows at most this many output pixels per side (the centre)

GradioProgress = Callable[..., Any]  # gr.Progress: progress(fraction, desc=...)
ImageInput = Union[str, Path, Image.Image, np.ndarray, None]


def on_space() -> bool:
    """Whether the app runs on a Hugging Face Space (which sets ``SPACE_ID``)."""
    return bool(os.environ.get("SPACE_ID"))


def app_max_pixels() -> int:
    """The app's input pixel limit: ``SR_APP_MAX_PIXELS``; else the CLI's (``sr_core.config.max_pixels``:
    ``SR_MAX_PIXELS``), capped at ``SPACE_MAX_PIXELS`` on a Space."""
    value = os.environ.get("SR_APP_MAX_PIXELS")
    if value:
        return int(value)
    return min(SPACE_MAX_PIXELS, config.max_pixels()) if on_space() else config.max_pixels()


def limit_text() -> str:
    """The input limit in words, for the page (shown before anyone uploads) and for errors."""
    limit = app_max_pixels()
    where = "this Space's limit" if on_space() else "the limit"
    return f"Inputs up to {limit / 1e6:g} megapixels ({limit:,} pixels; {where}, SR_APP_MAX_PIXELS)"


def tile_size() -> int:
    return int(os.environ.get("SR_APP_TILE", DEFAULT_TILE))


# --- inputs ----------------------------------------------------------------------------------------------

def _error(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


def too_many_pixels(size: tuple[int, int] | None, limit: int | None = None) -> gr.Error:
    """The error for an image over the limit (``size`` None: so large that Pillow refused to open it)."""
    limit = app_max_pixels() if limit is None else limit
    what = (f"The image is {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size
            else "The image has more pixels than Pillow will open (a possible decompression bomb)")
    return _error(f"{what}; this app accepts at most {limit:,} pixels ({limit / 1e6:g} megapixels). "
                  "Crop or shrink it first (the server's limit is set by SR_APP_MAX_PIXELS).")


def _peek_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the file header (no pixels decoded), or None if Pillow cannot tell."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:
        raise too_many_pixels(None) from None
    except Exception:  # open_image gives the reason below
        return None


def check_upload_pixels(width: int, height: int, limit: int | None = None) -> None:
    """``sr_core.io.check_pixels`` at the app's limit (``app_max_pixels``), its refusal worded for the page."""
    limit = app_max_pixels() if limit is None else limit
    try:
        check_pixels(width, height, limit)
    except ImageLoadError:
        raise too_many_pixels((width, height), limit) from None


def load_image(image: ImageInput, limit: int | None = None) -> Image.Image:
    """Open an uploaded image, checking the pixel limit before decoding; ``gr.Error`` if unusable."""
    if image is None or (isinstance(image, str) and not image):
        raise _error("No image: drop, paste or upload an image (or pick an example) first.")
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if isinstance(image, Image.Image):
        check_upload_pixels(*image.size, limit)
        try:
            return open_image(image, max_pixels=None)
        except ImageLoadError as err:
            raise _error(f"Could not read the image: {html.escape(str(err))}") from None
    if not isinstance(image, (str, Path)):
        raise _error(f"Unsupported input of type {type(image).__name__}; upload an image file.")
    path = Path(image)
    size = _peek_size(path) if path.is_file() else None
    if size is not None:
        check_upload_pixels(*size, limit)
    try:
        return open_image(path, max_pixels=None if size is not None else limit)
    except ImageLoadError as err:
        reason = str(err).replace(str(path), path.name)  # do not show server paths
        raise _error(f"Could not read the uploaded file as an image: {html.escape(reason)}") from None


def resolve_model(name: str | None, preset: str | None = None) -> str:
    """Check a model name against what the app can run now; return it. No name: the Upscale tab's default, or
    with a Compare ``preset`` that preset's (``models.compare_default``)."""
    choices = models.model_choices()
    name = str(name or "").strip()
    if not name:  # an API caller that names no model gets the tab's default
        return models.default_model(choices) if preset is None else models.compare_default(preset, choices)
    if name not in NET_PRESETS and (name in choices or custom_models.path_of(name) is not None):
        return name  # your own model: a file in SR_MODELS_DIR, or this page's upload (demo/custom_models.py)
    if name not in NET_PRESETS:
        raise _error(f"Unknown model {html.escape(name)!r}; available: {', '.join(choices)}.")
    if name not in choices:
        raise _error(f"Model {name!r} has no weights yet (expected {config.weights_dir().name}/{name}/"
                     f"model.safetensors); available now: {', '.join(choices)}.")
    return name


def load(name: str, detail: float | None = None):
    """``models.get_model`` with load failures turned into ``gr.Error``."""
    try:
        return models.get_model(name, detail)
    except (FileNotFoundError, sr_core.CheckpointError, OSError, ValueError) as err:
        raise _error(f"Could not load model {name!r}: {html.escape(str(err))}") from None


# --- outputs -----------------------------------------------------------------------------------------------

_request_root: Path | None = None


def request_dir(prefix: str) -> Path:
    """A new, private folder for one request's files (old ones are removed after ``KEEP_SECONDS``).

    Gradio copies returned files into its own cache, so these only need to live
    until the response has been sent.
    """
    global _request_root
    if _request_root is None or not _request_root.is_dir():
        _request_root = Path(tempfile.mkdtemp(prefix="sr-app-"))
    now = time.time()
    for old in _request_root.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_request_root))


def display_copy(img: Image.Image) -> Image.Image:
    """An 8-bit RGB(A)/L(A) version of any image, for showing in a browser."""
    if img.mode in HIGH_BIT_MODES:
        return to_image(to_tensor(img), "RGB")
    if img.mode in ("RGB", "RGBA", "L", "LA"):
        return img
    return img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")


def _round(x: float, digits: int = 4) -> float | None:
    """A JSON-safe float: rounded, and None for inf/nan (JSON has no infinity)."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _stem(image: ImageInput) -> str:
    if isinstance(image, (str, Path)):
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(image).stem)[:60]
        return stem or "image"
    return "image"


def _report(progress: GradioProgress | None, fraction: float, desc: str) -> None:
    if progress is not None:
        progress(fraction, desc=desc)


# --- Upscale tab ---------------------------------------------------------------------------------------------

def check_format(out_scale, fmt) -> tuple[int | None, str]:
    """The output scale and format of an Upscale request, checked: (2, 3, 4 or None = the model's), format."""
    if out_scale in (None, ""):
        out_scale = None
    else:
        try:
            out_scale = int(str(out_scale).lstrip("x×"))
        except ValueError:
            out_scale = -1
        if out_scale not in OUTPUT_SCALES:
            raise _error(f"Output scale must be one of {', '.join(f'x{s}' for s in OUTPUT_SCALES)}.")
    fmt = "PNG" if fmt in (None, "") else str(fmt)
    match = {k.lower(): k for k in OUTPUT_FORMATS} | {"jpg": "JPEG"}
    if fmt.lower() not in match:
        raise _error(f"Format must be one of {', '.join(OUTPUT_FORMATS)}.")
    return out_scale, match[fmt.lower()]


WEBP_MAX_SIDE = 16383  # the WebP format's limit per side


def check_output_side(size: tuple[int, int], scale: int, fmt: str) -> None:
    """``gr.Error`` before any work when the output would be too large for the format (WebP: 16383 px a side)."""
    side = max(size) * scale
    if fmt == "WebP" and side > WEBP_MAX_SIDE:
        raise _error(f"The output would be {side:,} px wide or high; WebP holds at most {WEBP_MAX_SIDE:,} px a "
                     "side. Choose PNG or JPEG, or a smaller scale.")


def check_upload(image: ImageInput) -> None:
    """Run when a file is uploaded: ``gr.Error`` at once if it cannot be read (or has too many pixels)."""
    if image is not None and image != "":
        load_image(image)


def check_uploads(files: list | None) -> None:
    """``check_upload`` for each of several uploaded files; the message names the bad ones."""
    bad = []
    for f in files or []:
        try:
            check_upload(_file_path(f))
        except gr.Error as err:
            bad.append(f"{Path(_file_path(f)).name}: {err.message}")
    if bad:
        raise _error("Some uploads are not usable images: " + "; ".join(bad))


def _file_path(f) -> str:
    """A path from what ``gr.File`` hands over (a path string, or an object with ``.name`` / ``.path``)."""
    return str(getattr(f, "path", None) or getattr(f, "name", None) or f) if not isinstance(f, (str, Path)) \
        else str(f)


def check_detail(name: str, detail) -> float | None:
    """The detail value for ``name``: None for models without a detail control, else in [0, 1] (gr.Error)."""
    if name not in DETAIL_PAIRS:
        return None
    try:
        return sr_check_detail(name, None if detail == "" else detail)
    except ValueError as err:
        raise _error(f"{html.escape(str(err))}.") from None


def upscale_image(image: ImageInput, model_name: str | None, progress: GradioProgress | None = None,
                  tile: int | None = None, out_scale: int | str | None = None, fmt: str | None = "PNG",
                  folder: Path | None = None, detail: float | None = None) -> tuple[str, dict]:
    """Upscale one image with one model; return (path of the output file, info dict).

    Args:
        model_name: a name of ``models.model_choices()``; empty or None: ``models.default_model()`` (``real``).
        detail: ``real`` only: 0 (smooth, ``real-psnr``) to 1 (the GAN's texture), the two outputs mixed
            (``sr_core.detail``); default ``sr_core.detail.DEFAULT_DETAIL``. Ignored by other models.
        out_scale: 2, 3 or 4 (or "x2", ...): the output size over the input's; the model's output is resized
            with Lanczos when it differs from the model's own scale. None: the model's scale.
        fmt: "PNG" (lossless, the default), "JPEG" or "WebP" (quality 95). The colour profile and EXIF of the
            input are kept (its orientation applied and reset).
        folder: where to write (default: a new per-request folder).

    ``progress`` (e.g. a ``gr.Progress``) is called as ``progress(fraction, desc=...)`` after each tile.
    """
    name = resolve_model(model_name)
    out_scale, fmt = check_format(out_scale, fmt)
    detail = check_detail(name, detail)
    img = load_image(image)
    _report(progress, 0.0, f"loading {name}")
    t0 = time.perf_counter()
    model = load(name, detail)
    t_load = time.perf_counter() - t0
    check_output_side(img.size, out_scale or model_scale(model), fmt)
    tile = tile_size() if tile is None else tile
    if tile > 0:  # tiles must be wider than twice the overlap sr_core blends over
        tile = max(tile, 2 * DEFAULT_OVERLAP + 8)
    tiles = [0]

    def on_tile(done: int, total: int) -> None:
        tiles[0] = total
        _report(progress, done / total, f"{name}: tile {done}/{total}")

    t0 = time.perf_counter()
    # the CLI's default precision: bfloat16 on CPUs with AMX (same PSNR, 1.6-2.3x faster: reports/precision)
    out = sr_core.upscale(model, img, tile=tile, progress=on_tile, max_pixels=None, dtype="auto")
    out = resize_to_outscale(out, img.size, out_scale, model_scale(model))
    t_run = time.perf_counter() - t0
    _report(progress, 1.0, f"saving {fmt}")
    scale = out_scale or model_scale(model)
    label = name if detail is None else detail_label(name, detail)
    path = (folder or request_dir("upscale-")) / f"{_stem(image)}_{label}_x{scale}{OUTPUT_FORMATS[fmt]}"
    save_image(out, path, **image_metadata(img))
    info = {
        "model": name,
        **({"detail": detail} if detail is not None else {}),
        "scale": scale,
        "model_scale": model_scale(model),
        "format": fmt,
        "input_size": list(img.size),
        "output_size": list(out.size),
        "mode": out.mode,
        "seconds": _round(t_run, 3),
        "load_seconds": _round(t_load, 3),
        "tiles": tiles[0],
        "device": str(models.device()),
        "max_input_pixels": app_max_pixels(),
    }
    return str(path), info


def upscale_files(files: list | None, model_name: str | None, out_scale: int | str | None = None,
                  fmt: str | None = "PNG", progress: GradioProgress | None = None,
                  tile: int | None = None, detail: float | None = None) -> tuple[list[str], str | None, dict]:
    """Upscale several uploaded files; return (output paths for the gallery, one zip of them all, info).

    A file that cannot be read is skipped and listed in ``info["failed"]``; ``gr.Error`` if none worked.
    Progress is reported per file (``file 2/5: tile 3/8``).
    """
    import zipfile

    paths = [_file_path(f) for f in files or []]
    if not paths:
        raise _error("No files: drop or choose one or more images first.")
    name = resolve_model(model_name)
    out_scale, fmt = check_format(out_scale, fmt)
    detail = check_detail(name, detail)
    folder = request_dir("batch-")
    outputs, failed, items = [], [], []
    for i, path in enumerate(paths):
        def step(fraction, desc="", i=i, n=len(paths), path=path):
            _report(progress, (i + fraction) / n, f"file {i + 1}/{n} ({Path(path).name}): {desc}")
        step(0.0, "reading")
        try:
            sub = folder / f"{i:04d}"  # one folder per file: two uploads named photo.png do not collide
            sub.mkdir()
            out, info = upscale_image(path, name, progress=step, tile=tile, out_scale=out_scale, fmt=fmt,
                                      folder=sub, detail=detail)
        except gr.Error as err:
            failed.append({"file": Path(path).name, "error": err.message})
            continue
        outputs.append(out)
        items.append({"file": Path(path).name, "output": Path(out).name, "scale": info["scale"],
                      "output_size": info["output_size"], "seconds": info["seconds"]})
    if not outputs:
        raise _error("None of the files could be upscaled: "
                     + "; ".join(f"{f['file']}: {f['error']}" for f in failed))
    archive = folder / f"upscaled_{name}_x{items[0]['scale']}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG/JPEG/WebP: compressed already
        seen: set[str] = set()
        for i, out in enumerate(outputs):
            arcname = Path(out).name if Path(out).name not in seen else f"{i + 1}_{Path(out).name}"
            seen.add(arcname)
            zf.write(out, arcname)
    _report(progress, 1.0, "done")
    return outputs, str(archive), {"model": name, "format": fmt, "files": items, "failed": failed}


def batch_summary(info: dict | None) -> str:
    """One Markdown line for a several-files run: how many written, which failed."""
    if not info:
        return ""
    text = f"**{len(info['files'])}** file(s) upscaled with **{info['model']}** ({info['format']})"
    if info.get("failed"):
        text += "; failed: " + "; ".join(f"{html.escape(f['file'])} ({f['error']})" for f in info["failed"])
    return text


def cleared(n: int = 4) -> tuple[None, ...]:
    """Empty values for the result components (slider / gallery, summary, download, info): what a new upload,
    a cleared input or the start of a run shows, so no earlier result stays beside a new input or an error."""
    return (None,) * n


def _preview_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The centre of an output, at most ``PREVIEW_SIDE`` pixels per side (the whole output when it is smaller)."""
    (w, h), (cw, ch) = size, (min(size[0], PREVIEW_SIDE), min(size[1], PREVIEW_SIDE))
    left, top = (w - cw) // 2, (h - ch) // 2
    return left, top, left + cw, top + ch


def open_output(path: str | Path) -> Image.Image:
    """Open an output this app wrote (lazily), without Pillow's decompression-bomb check: a 4000 x 3000 input at
    4x is 192 M pixels, over Pillow's 179 M, and its input has passed the app's own limit already."""
    fmt = Image.registered_extensions()[Path(path).suffix.lower()]
    return Image.OPEN[fmt][0](str(path))


def before_after(image: ImageInput, result_path: str | None, result: Image.Image | None = None
                 ) -> tuple[str, str] | None:
    """The slider pair: (input enlarged with nearest neighbour to the output's size as a PNG, output).

    An output larger than ``PREVIEW_SIDE`` per side is shown by its centre at full size (a browser would
    scale a 16000 x 12000 image down to the input's detail). ``result``: the output, if already opened.
    """
    if image is None or not result_path:
        return None
    if result is None:
        with open_output(result_path) as out:  # only the size is read unless the output must be cropped
            return before_after(image, result_path, out)
    size, box = result.size, _preview_box(result.size)
    src = display_copy(load_image(image))
    sx, sy = size[0] / src.width, size[1] / src.height
    before = src.resize((box[2] - box[0], box[3] - box[1]), Image.NEAREST,
                        box=(box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy))
    folder = request_dir("before-")
    before.save(folder / "input_nearest.png", format="PNG", compress_level=1)
    if box == (0, 0, *size):
        return str(folder / "input_nearest.png"), str(result_path)
    result.crop(box).save(folder / "output_centre.png", format="PNG", compress_level=1)
    return str(folder / "input_nearest.png"), str(folder / "output_centre.png")


def second_download(result_path: str, result: Image.Image) -> str | None:
    """For an output over ``LARGE_OUTPUT_PIXELS``: the same image in the other kind of format, beside it (a JPEG
    for a PNG, a PNG for a JPEG or WebP), so a download can be small or lossless; None for smaller outputs."""
    if result.width * result.height <= LARGE_OUTPUT_PIXELS:
        return None
    path = Path(result_path)
    suffix = ".jpg" if path.suffix.lower() == ".png" else ".png"
    meta = {k: result.info[k] for k in ("icc_profile", "exif") if result.info.get(k)}
    return str(save_image(result, path.with_suffix(suffix), quality=92, **meta))


def _megabytes(path: str) -> str:
    return f"{Path(path).stat().st_size / 2 ** 20:.1f} MB"  # MB as the download box counts them (MiB)


def result_views(image: ImageInput, result_path: str | None, info: dict | None
                 ) -> tuple[tuple[str, str] | None, str | None, str]:
    """What the Upscale tab shows after a run, from one decode of the output: the slider pair (its centre for
    large outputs), a second download for large outputs (or None), and the summary line with file sizes."""
    if not result_path or image is None:
        return None, None, upscale_summary(info)
    with open_output(result_path) as out:  # decoded once, and only for a large output (crop, second format)
        pair = before_after(image, result_path, out)
        other = second_download(result_path, out)
        left, top, right, bottom = _preview_box(out.size)
        cropped = (right - left, bottom - top) != out.size
    files = [result_path] + ([other] if other else [])
    sizes = " · ".join(f"{Path(f).suffix[1:].upper().replace('JPG', 'JPEG')} {_megabytes(f)}" for f in files)
    note = f"; download: {sizes}"
    if cropped:
        note += f"; the slider shows the centre {right - left}×{bottom - top} px at full size"
    return pair, other, upscale_summary(info) + note


def upscale_summary(info: dict | None) -> str:
    """One Markdown line for the Upscale tab: model (with its detail value), sizes, time."""
    if not info:
        return ""
    (w, h), (ow, oh) = info["input_size"], info["output_size"]
    load = f" (+{info['load_seconds']:.2f} s loading)" if info.get("load_seconds", 0) >= 0.05 else ""
    tiles = f", {info['tiles']} tiles" if info.get("tiles", 0) > 1 else ""
    fmt = f" {info['format']}" if info.get("format") else ""
    detail = f" (detail {info['detail']:g})" if info.get("detail") is not None else ""
    return (f"**{info['model']}**{detail} ×{info['scale']}{fmt}: {w}×{h} → **{ow}×{oh}** px "
            f"in **{info['seconds']:.2f} s**{load} on {info['device']}{tiles}")


# --- Compare tab ------------------------------------------------------------------------------------------------

def make_pair(img: Image.Image, preset: str, scale: int) -> tuple[Image.Image, Image.Image]:
    """(HR, LR) for a compare preset: the image is the ground truth, the LR is made from it."""
    if img.mode in HIGH_BIT_MODES:
        img = to_image(to_tensor(img), "RGB")
    if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, "white")
        img.paste(rgba, mask=rgba.getchannel("A"))
    img = img.convert("RGB")
    if preset == "catdog32":
        # the convention of the cat/dog data (studies/catsdogs/data.py, sr_core.classifier.prepare_image):
        # the whole picture resized directly (aspect ratio not kept), Pillow bicubic
        hr = img.resize((CATDOG_SIZE, CATDOG_SIZE), Image.BICUBIC)
    elif preset in ("standard", "realistic"):
        hr = mod_crop(img, scale)
        need = 2 * scale + 11  # SSIM's 11x11 window after cropping a border of `scale` pixels
        if min(hr.size) < need:
            raise _error(f"The image is {img.width}x{img.height}; Compare needs at least {need}x{need} pixels "
                         f"(or use the catdog32 preset).")
    else:
        raise _error(f"Unknown preset {html.escape(str(preset))!r}; use one of: {', '.join(COMPARE_PRESETS)}.")
    if preset == "realistic":
        from sr_core.degradations import degrade_real

        return hr, degrade_real(hr, scale, "real", seed=REALISTIC_SEED, index=0)
    return hr, degrade(hr, scale, "bicubic")


def classifier_readout(images: dict[str, Image.Image]) -> dict[str, dict]:
    """Cat/dog probabilities of each classifier for each image, or why a classifier is not available."""
    out: dict[str, dict] = {}
    for name in models.CLASSIFIERS:
        label = "classifier " + name.rsplit("-", 1)[-1].upper()
        try:
            clf = models.get_classifier(name)
        except ImportError:
            out[name] = {"available": False, "message": f"{label}: not available (no classifier module)"}
            continue
        except FileNotFoundError:
            out[name] = {"available": False, "message": f"{label}: not available (no weights)"}
            continue
        except Exception as err:  # a half-written module or a broken checkpoint must not break Compare
            out[name] = {"available": False, "message": f"{label}: not available ({type(err).__name__}: {err})"}
            continue
        try:
            probs = models.classifier_module().predict_proba(clf, list(images.values())).detach().float().cpu()
        except Exception as err:
            out[name] = {"available": False, "message": f"{label}: failed ({type(err).__name__}: {err})"}
            continue
        out[name] = {"available": True, "message": label,
                     **{key: {"cat": _round(p[0]), "dog": _round(p[1])} for key, p in zip(images, probs.tolist())}}
    return out


def compare_images(image: ImageInput, model_name: str | None, preset: str = "standard",
                   progress: GradioProgress | None = None
                   ) -> tuple[Image.Image, Image.Image, Image.Image, Image.Image, dict]:
    """Treat the image as HR, make its LR, and compare bicubic with ``model_name`` against the HR.

    Returns (LR enlarged with nearest neighbour to the HR size, bicubic, SR, HR,
    readouts). The readouts hold PSNR and SSIM of bicubic and SR (Y channel,
    border = scale, as ``sr_core.metrics``) and, with the ``catdog32`` preset only,
    both classifiers' cat/dog probabilities for HR, bicubic and SR.
    """
    if preset not in COMPARE_PRESETS:
        raise _error(f"Unknown preset {html.escape(str(preset))!r}; use one of: {', '.join(COMPARE_PRESETS)}.")
    name = resolve_model(model_name, preset)
    img = load_image(image)
    _report(progress, 0.05, f"loading {name}")
    model = load(name)
    scale = model_scale(model)
    hr, lr = make_pair(img, preset, scale)
    t0 = time.perf_counter()
    bicubic = sr_core.upscale(sr_core.load_model("bicubic", scale=scale), lr, tile=0, max_pixels=None)
    _report(progress, 0.2, f"running {name}")
    t1 = time.perf_counter()
    sr = sr_core.upscale(model, lr, tile=tile_size(), max_pixels=None,
                         progress=lambda d, t: _report(progress, 0.2 + 0.5 * d / t, f"{name}: tile {d}/{t}"))
    t_sr = time.perf_counter() - t1
    _report(progress, 0.75, "metrics")
    hr_t = to_tensor(hr)
    metrics = {}
    for key, out in (("bicubic", bicubic), ("sr", sr)):
        x = to_tensor(out)
        metrics[key] = {"psnr": _round(sr_core.psnr(x, hr_t, crop_border=scale)[0], 3),
                        "ssim": _round(sr_core.ssim(x, hr_t, crop_border=scale)[0], 4)}
    # cat/dog probabilities mean something only for the cat/dog preset (32x32 cat or dog photos); for any
    # other image they are noise ("dog 0.98" under a bird), so they are not computed or shown
    classifiers = {}
    if preset == "catdog32":
        _report(progress, 0.85, "classifiers")
        classifiers = classifier_readout({"hr": hr, "bicubic": bicubic, "sr": sr})
    detail = check_detail(name, None)  # real: the default detail (the Compare tab has no slider)
    readouts = {
        "model": name,
        **({"detail": detail} if detail is not None else {}),
        "preset": preset,
        "scale": scale,
        "hr_size": list(hr.size),
        "lr_size": list(lr.size),
        "metrics": metrics,
        "metric_convention": f"Y channel (BT.601), {scale}-pixel border cropped, 8-bit rounded",
        "classifiers": classifiers,
        "seconds": {"sr": _round(t_sr, 3), "total": _round(time.perf_counter() - t0, 3)},
    }
    lr_big = lr.resize(hr.size, Image.NEAREST)
    return lr_big, bicubic, sr, hr, readouts


def _probs_line(entry: dict, key: str) -> str:
    if not entry.get("available"):
        return entry.get("message", "not available")
    p = entry.get(key) or {}
    cat, dog = p.get("cat"), p.get("dog")
    if cat is None or dog is None:
        return f"{entry['message']}: n/a"
    return f"{entry['message']}: cat {cat:.2f} · dog {dog:.2f}"


def readout_markdown(readouts: dict | None) -> tuple[str, str, str, str]:
    """Markdown under the four viewers (LR, bicubic, SR, HR) from the readouts dict."""
    if not readouts:
        return "", "", "", ""
    (lw, lh), (hw, hh) = readouts["lr_size"], readouts["hr_size"]
    texts = {"lr": f"LR {lw}×{lh} px (shown ×{readouts['scale']}, nearest neighbour)",
             "hr": f"HR (ground truth) {hw}×{hh} px"}
    for key in ("bicubic", "sr"):
        m = readouts["metrics"][key]
        psnr = "∞ (identical)" if m["psnr"] is None else f"{m['psnr']:.2f} dB"
        ssim = "n/a" if m["ssim"] is None else f"{m['ssim']:.4f}"
        label = "bicubic" if key == "bicubic" else readouts["model"]
        if key == "sr" and readouts.get("detail") is not None:
            label += f" (detail {readouts['detail']:g})"
        texts[key] = f"{label}: PSNR **{psnr}** · SSIM **{ssim}**"
    for key in ("bicubic", "sr", "hr"):
        lines = [_probs_line(entry, key) for entry in readouts.get("classifiers", {}).values()]
        texts[key] += "".join(f"<br>{line}" for line in lines)
    return texts["lr"], texts["bicubic"], texts["sr"], texts["hr"]


def zoom_crops(images: list[Image.Image | None], x: float = 50, y: float = 50, zoom: float = 4
               ) -> list[Image.Image | None]:
    """The same region of each image: centre at (x %, y %) of the width/height, 1/zoom of each side.

    Crops are enlarged with nearest neighbour so that pixels stay visible.
    Images of different sizes are cropped at the same relative position.
    """
    out: list[Image.Image | None] = []
    for img in images:
        if img is None:
            out.append(None)
            continue
        w, h = img.size
        cw, ch = max(1, round(w / zoom)), max(1, round(h / zoom))
        left = min(max(0, round(w * x / 100 - cw / 2)), w - cw)
        top = min(max(0, round(h * y / 100 - ch / 2)), h - ch)
        crop = img.crop((left, top, left + cw, top + ch))
        factor = max(1, math.ceil(ZOOM_DISPLAY / max(cw, ch)))
        out.append(crop.resize((cw * factor, ch * factor), Image.NEAREST))
    return out
