"""Upscaling images of any size with bounded memory.

``upscale(model, image)`` takes and returns ``PIL.Image``; ``upscale_tensor``
does the work on (1, C, H, W) tensors. This module is the torch backend: it
runs a network (its optimised copy, dtype and autocast) on batches of tiles;
the tile loop, blending and image conversion are :mod:`sr_core.tiling`'s,
shared with the ONNX Runtime backend (:mod:`sr_core.backends`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from . import tiling
from .io import ImageLoadError
from .optimize import cached_prepare
from .tiling import DEFAULT_OVERLAP, ProgressFn, resize_to_outscale

log = logging.getLogger(__name__)


def model_scale(model: nn.Module) -> int:
    return int(getattr(model, "scale", None) or model.hparams["scale"])


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def available_memory(device: torch.device) -> int:
    """Bytes that can be allocated now on ``device`` (free CUDA memory, or MemAvailable on Linux)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return tiling.cpu_available_memory()


def bytes_per_input_pixel(model: nn.Module) -> int:
    """Peak memory of one forward pass (float32) per input pixel, including the clamped CPU copy of the output.

    Checked against the measured peak increase of a tile's forward pass by
    ``python -m benchmarks.memory forward`` (2 threads, 192 px tiles): srresnet
    9.9 KB measured / 11.0 KB estimated, swift-srgan 10.2 / 11.0, srcnn 8.4 / 9.0.
    The peak is the last sub-pixel stage: two 4F-channel maps at (s/2)^2 the
    input pixels (convolution output and activation), i.e. 2.25 s^2 F floats
    with the rest of the trunk; SRCNN holds two F-channel maps at full output size.
    """
    from .nets import SRCNN, SRResNet
    from .resize import Interpolation

    if getattr(model, "bytes_per_input_pixel", None):  # a model that knows its own (sr_core.community)
        return int(model.bytes_per_input_pixel)
    arch = "srresnet" if isinstance(model, SRResNet) else "srcnn" if isinstance(model, SRCNN) else \
        "interpolation" if isinstance(model, Interpolation) else None
    return tiling.estimate_bytes_per_input_pixel(arch, model_scale(model),
                                                 getattr(model, "hparams", {}).get("num_features", 64))


def auto_tile_size(model: nn.Module, device: torch.device | None = None, budget: int | None = None,
                   batch_size: int = 1) -> int:
    """Largest square tile (input pixels per side) whose forward pass fits in a quarter of free memory, capped at 1 GiB.

    With ``batch_size`` tiles per forward pass, each gets that share of the budget.
    """
    device = device or model_device(model)
    if budget is None:
        budget = min(available_memory(device) // 4, 2 ** 30)
    return tiling.tile_for_budget(budget, bytes_per_input_pixel(model), batch_size)


_grid = tiling.grid


def _ramp(length: int, ramp: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """:func:`sr_core.tiling.ramp` as a tensor."""
    return torch.from_numpy(tiling.ramp(length, ramp, fade_in, fade_out))


def auto_dtype(device: torch.device) -> torch.dtype | None:
    """What ``dtype="auto"`` runs the convolutions in: float16 on CUDA, bfloat16 on a CPU with native bfloat16
    matrix instructions (:func:`has_fast_bfloat16`: AMX, or AVX512-BF16), float32 (None) elsewhere.

    bfloat16 made the shipped models 1.6-2.3x faster on this project's 2-core AMX Xeon and 1.47-1.96x on its 2-core
    AMD EPYC with AVX512-BF16 (no AMX), and moved their Set5 and Set14 PSNR by hundredths of a dB at most
    (``python -m benchmarks.precision``; ``reports/precision/``, ``reports/precision_epyc/``). Without those
    instructions oneDNN emulates bfloat16 and can be slower than float32 (``reports/bench/``), so it is not
    chosen there.
    """
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and has_fast_bfloat16():
        return torch.bfloat16
    return None


def has_amx() -> bool:
    """Whether this CPU has AMX tiles (torch's own check; False where this torch has none)."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def has_avx512_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU flags (``/proc/cpuinfo``, Linux; False where it cannot be read) include ``avx512_bf16``."""
    from .config import cpu_flags

    return "avx512_bf16" in cpu_flags(cpuinfo)


def has_fast_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively: AMX tiles or AVX512-BF16."""
    return has_amx() or has_avx512_bf16()


class _Runner:
    """Runs batches of tiles through the (optimised) network; float32 fallback for non-finite low-precision output.

    Low precision is ``torch.autocast``: convolutions run in float16/bfloat16
    while the input, interpolation (SRResNet's bicubic skip) and the output
    stay float32, which keeps the error far below a grey level.
    """

    def __init__(self, model: nn.Module, optimize: bool, compile: bool, dtype: torch.dtype | str | None):
        self.device = model_device(model)
        if model.training:  # BatchNorm on batch statistics: run the network exactly as it is
            optimize, dtype = False, None
        if dtype == "auto":
            dtype = auto_dtype(self.device)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.dtype = None if dtype in (None, torch.float32) else dtype
        flag = {torch.float16: "supports_half", torch.bfloat16: "supports_bfloat16"}.get(self.dtype)
        if flag and getattr(model, flag, True) is False:  # spandrel's per-architecture flags
            log.warning("%s does not support %s; running in float32", type(model).__name__, self.dtype)
            self.dtype = None
        self.model = cached_prepare(model, compile=compile) if optimize else model
        self.channels_last = bool(getattr(self.model, "inference_channels_last", False))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) on any device -> (B, C, s*h, s*w) CPU float32 clamped to [0, 1]."""
        batch = batch.to(self.device)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        if self.dtype is not None:
            with torch.autocast(self.device.type, dtype=self.dtype):
                out = self.model(batch)
            out = out.float()
            bad = ~torch.isfinite(out).flatten(1).all(1)  # float16 overflow: redo those tiles in float32
            if bad.any():
                log.info("%d tile(s) overflowed in %s; recomputed in float32", int(bad.sum()), self.dtype)
                out[bad] = self.model(batch[bad]).float()
        else:
            out = self.model(batch).float()
        return out.clamp_(0, 1).cpu()


def torch_backend(run: _Runner):
    """``run`` as a :mod:`sr_core.tiling` backend: float32 numpy (B, C, h, w) -> numpy (B, C, s*h, s*w)."""
    def backend(batch):
        with torch.inference_mode():
            return run(torch.from_numpy(batch)).numpy()
    return backend


def _upscale_bands(model: nn.Module, x: torch.Tensor, tile: int | None, tile_overlap: int,
                   progress: ProgressFn | None, batch_size: int | None, optimize: bool, compile: bool,
                   dtype: torch.dtype | str | None):
    """:func:`sr_core.tiling.bands` of ``x`` (a tensor, any device) through ``model``'s runner."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"upscale_tensor takes a (1, C, H, W) tensor, got {tuple(x.shape)}")
    batch_size = max(1, int(batch_size or 1))
    if tile is None:
        tile = auto_tile_size(model, model_device(model), batch_size=batch_size)
    run = _Runner(model, optimize and not model.training, compile, dtype)
    yield from tiling.bands(torch_backend(run), x.detach().float().cpu().numpy(), model_scale(model), tile,
                            tile_overlap, batch_size, progress)


@torch.inference_mode()
def upscale_tensor(model: nn.Module, x: torch.Tensor, tile: int | None = None, tile_overlap: int = DEFAULT_OVERLAP,
                   progress: ProgressFn | None = None, *, batch_size: int | None = None, optimize: bool = True,
                   compile: bool = False, dtype: torch.dtype | str | None = None) -> torch.Tensor:
    """Upscale a (1, C, H, W) [0, 1] tensor, tiling when ``tile`` (input pixels per side) is smaller than the image.

    ``tile=None`` picks the tile from available memory; ``tile=0`` disables tiling.
    Returns a CPU float32 tensor clamped to [0, 1].

    Args:
        batch_size: tiles run through the network together (they all have the same size); default 1.
        optimize: run an inference copy of the network (BatchNorm folded, channels-last, ...;
            see :mod:`sr_core.optimize`); outputs agree with ``optimize=False`` to float rounding.
        compile: ``torch.compile`` that copy (slow first call).
        dtype: ``torch.float16``/``torch.bfloat16`` (or their names, or ``"auto"``: float16 on
            CUDA, bfloat16 on a CPU with AMX or AVX512-BF16, else float32; :func:`auto_dtype`) to run the convolutions in low
            precision (``torch.autocast``);
            tiles whose output is not finite are recomputed in float32. bfloat16 on a CPU with
            AVX512-BF16/AMX is about 2x faster than float32, with a mean error of ~0.1/255 and
            a maximum of ~2/255 on trained weights (``benchmarks.run``); off by default.
    """
    scale = model_scale(model)
    _, c, h, w = x.shape if x.dim() == 4 else (None, None, 0, 0)
    out = None
    for row, band in _upscale_bands(model, x, tile, tile_overlap, progress, batch_size, optimize, compile, dtype):
        if out is None:
            if row == 0 and band.shape[2] == h * scale:
                return torch.from_numpy(band)  # one piece: the whole image
            out = torch.empty(1, band.shape[1], h * scale, w * scale)
        out[:, :, row:row + band.shape[2]] = torch.from_numpy(band)
    return out


_ROWS_PER_CONVERSION = 128  # output rows converted to 8 bits at a time by upscale


def upscale(model: nn.Module, image: Image.Image | str, tile: int | None = None,
            tile_overlap: int = DEFAULT_OVERLAP, progress: ProgressFn | None = None,
            max_pixels: int | None = None, *, batch_size: int | None = None, optimize: bool = True,
            compile: bool = False, dtype: torch.dtype | str | None = None) -> Image.Image:
    """Upscale a PIL image (or a path) by the model's scale factor; returns a PIL image.

    The colour part goes through the network; an alpha channel is upscaled
    separately (bicubic) and put back. Fully transparent pixels first take the
    colour of their visible neighbours (``sr_core.io.fill_transparent``), so the
    arbitrary colour under them does not bleed into the edge as a dark fringe. Greyscale stays greyscale and 16-bit
    greyscale stays 16-bit; palette and CMYK images come back as RGB(A).
    EXIF orientation is applied before upscaling.

    Args:
        model: any network of this library (or a classical ``Interpolation``).
        image: the image, or a path to it.
        tile: tile size in input pixels; None picks one from free memory, 0 disables tiling.
        tile_overlap: overlap between tiles in input pixels.
        progress: called as ``progress(done, total)`` after every tile.
        max_pixels: refuse inputs with more pixels than this (None: no limit).
        batch_size, optimize, compile, dtype: as for :func:`upscale_tensor`.

    The output is assembled band by band (rows of tiles converted to 8 or 16
    bits as soon as they are final), so a 2048 x 2048 input at 4x never holds
    the 8192 x 8192 float32 image (0.8 GB) in memory.
    """
    batch_size = max(1, int(batch_size or 1))
    if tile is None:
        tile = auto_tile_size(model, model_device(model), batch_size=batch_size)
    run = _Runner(model, optimize and not model.training, compile, dtype)
    with torch.inference_mode():
        return tiling.upscale_image(torch_backend(run), model_scale(model), image, tile, tile_overlap, progress,
                                    max_pixels, batch_size, _ROWS_PER_CONVERSION)


__all__ = ["resize_to_outscale", "upscale", "upscale_tensor", "auto_dtype", "auto_tile_size", "ImageLoadError"]
