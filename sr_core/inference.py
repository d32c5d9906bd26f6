"""Upscaling images of any size with bounded memory.

``upscale(model, image)`` takes and returns ``PIL.Image``; ``upscale_tensor``
does the work on (1, C, H, W) tensors. Large inputs are cut into overlapping
tiles; each tile's output is weighted by a window that ramps linearly across
the overlap, so neighbouring tiles fade into each other and no seam shows.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import torch
from PIL import Image
from torch import nn

from .io import ImageLoadError, open_image, split_alpha, to_image, to_tensor

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

DEFAULT_OVERLAP = 16


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
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2 ** 30


def bytes_per_input_pixel(model: nn.Module) -> int:
    """Rough peak activation memory of a forward pass, per input pixel (float32)."""
    scale = model_scale(model)
    features = getattr(model, "hparams", {}).get("num_features", 16)
    # a few trunk-sized tensors at LR, the upsampling stages at up to scale^2 the pixels
    return 4 * features * (8 + 3 * scale * scale)


def auto_tile_size(model: nn.Module, device: torch.device | None = None, budget: int | None = None) -> int:
    """Largest square tile (input pixels per side) whose forward pass fits in a quarter of free memory, capped at 1 GiB."""
    device = device or model_device(model)
    if budget is None:
        budget = min(available_memory(device) // 4, 2 ** 30)
    side = int(math.sqrt(budget / bytes_per_input_pixel(model)))
    return max(64, min(side // 8 * 8, 1024))


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def _ramp(length: int, ramp: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """1-D blending window: 1 inside, linear ramps of ``ramp`` samples at the faded ends."""
    w = torch.ones(length)
    if ramp > 0:
        r = (torch.arange(ramp, dtype=torch.float32) + 0.5) / ramp
        if fade_in:
            w[:ramp] = torch.minimum(w[:ramp], r)
        if fade_out:
            w[-ramp:] = torch.minimum(w[-ramp:], r.flip(0))
    return w


@torch.inference_mode()
def upscale_tensor(model: nn.Module, x: torch.Tensor, tile: int | None = None, tile_overlap: int = DEFAULT_OVERLAP,
                   progress: ProgressFn | None = None) -> torch.Tensor:
    """Upscale a (1, C, H, W) [0, 1] tensor, tiling when ``tile`` (input pixels per side) is smaller than the image.

    ``tile=None`` picks the tile from available memory; ``tile=0`` disables tiling.
    Returns a CPU float32 tensor clamped to [0, 1].
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"upscale_tensor takes a (1, C, H, W) tensor, got {tuple(x.shape)}")
    device = model_device(model)
    scale = model_scale(model)
    _, c, h, w = x.shape
    if tile is None:
        tile = auto_tile_size(model, device)
    if tile == 0 or (h <= tile and w <= tile):
        out = model(x.to(device)).float().clamp_(0, 1).cpu()
        if progress:
            progress(1, 1)
        return out
    if tile <= 2 * tile_overlap:
        raise ValueError(f"tile ({tile}) must be larger than twice the overlap ({tile_overlap})")
    ys, xs = _starts(h, tile, tile_overlap), _starts(w, tile, tile_overlap)
    out = torch.zeros(1, c, h * scale, w * scale)
    weight = torch.zeros(1, 1, h * scale, w * scale)
    total, done = len(ys) * len(xs), 0
    for y0 in ys:
        th = min(tile, h - y0)
        for x0 in xs:
            tw = min(tile, w - x0)
            patch = x[:, :, y0:y0 + th, x0:x0 + tw].to(device)
            sr = model(patch).float().clamp_(0, 1).cpu()  # (1, C, s*th, s*tw)
            ramp = tile_overlap * scale
            wy = _ramp(th * scale, ramp, y0 > 0, y0 + th < h)
            wx = _ramp(tw * scale, ramp, x0 > 0, x0 + tw < w)
            win = wy[:, None] * wx[None, :]
            oy, ox = y0 * scale, x0 * scale
            out[:, :, oy:oy + th * scale, ox:ox + tw * scale] += sr * win
            weight[:, :, oy:oy + th * scale, ox:ox + tw * scale] += win
            done += 1
            if progress:
                progress(done, total)
    return out.div_(weight)


def upscale(model: nn.Module, image: Image.Image | str, tile: int | None = None,
            tile_overlap: int = DEFAULT_OVERLAP, progress: ProgressFn | None = None,
            max_pixels: int | None = None) -> Image.Image:
    """Upscale a PIL image (or a path) by the model's scale factor; returns a PIL image.

    The colour part goes through the network; an alpha channel is upscaled
    separately (bicubic) and put back. Greyscale stays greyscale and 16-bit
    greyscale stays 16-bit; palette and CMYK images come back as RGB(A).
    EXIF orientation is applied before upscaling.

    Args:
        model: any network of this library (or a classical ``Interpolation``).
        image: the image, or a path to it.
        tile: tile size in input pixels; None picks one from free memory, 0 disables tiling.
        tile_overlap: overlap between tiles in input pixels.
        progress: called as ``progress(done, total)`` after every tile.
        max_pixels: refuse inputs with more pixels than this (None: no limit).
    """
    img = open_image(image, max_pixels=max_pixels)
    colour, alpha = split_alpha(img)
    scale = model_scale(model)
    out = to_image(upscale_tensor(model, to_tensor(colour), tile, tile_overlap, progress), colour.mode)
    if alpha is not None:
        alpha = alpha.resize(out.size, Image.BICUBIC)
        out = Image.merge("RGBA", (*out.convert("RGB").split(), alpha)) if colour.mode != "L" \
            else Image.merge("LA", (out, alpha))
    assert out.size == (img.width * scale, img.height * scale)
    return out


__all__ = ["upscale", "upscale_tensor", "auto_tile_size", "ImageLoadError"]
