"""Pillow-compatible resampling on tensors, and the classical (non-learned) upscalers.

Pillow's resize is the reference this project uses to make LR images and the
``bicubic`` baseline, because it is what the SR literature's MATLAB ``imresize``
is closest to among Python libraries (cubic kernel with a = -0.5, pixel-centre
alignment, antialiasing when downscaling). ``resize`` reproduces Pillow's filter
weights exactly (``Resample.c::precompute_coeffs``) and, like Pillow, clips the
result of each pass to the value range (Pillow clips to 0..255 after the
horizontal pass; without that, the overshoot of the cubic and Lanczos kernels
at sharp edges propagates into the vertical pass and outputs differ by tens
of grey levels). It keeps float precision between the two passes, where Pillow
rounds to 8 bits; outputs agree with Pillow's to within one grey level.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn

INTERPOLATIONS = ("bicubic", "lanczos", "nearest")


def _bicubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3.0) if -3.0 <= x < 3.0 else 0.0


_FILTERS = {"bicubic": (_bicubic, 2.0), "lanczos": (_lanczos, 3.0)}


@lru_cache(maxsize=256)
def _coefficients(in_size: int, out_size: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (out, k) and weights (out, k) of Pillow's separable resampling along one axis."""
    scale = in_size / out_size
    if mode == "nearest":
        idx = torch.tensor([min(int((o + 0.5) * scale), in_size - 1) for o in range(out_size)])
        return idx[:, None], torch.ones(out_size, 1, dtype=torch.float64)
    kernel, support = _FILTERS[mode]
    filterscale = max(scale, 1.0)
    support = support * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    idx = torch.zeros(out_size, ksize, dtype=torch.long)
    weights = torch.zeros(out_size, ksize, dtype=torch.float64)
    for o in range(out_size):
        center = (o + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [kernel((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        total = sum(w)
        for k, wk in enumerate(w):
            idx[o, k] = xmin + k
            weights[o, k] = wk / total if total != 0 else wk
    return idx, weights


def _resize_axis(x: torch.Tensor, out_size: int, dim: int, mode: str,
                 value_range: tuple[float, float] | None = None) -> torch.Tensor:
    in_size = x.shape[dim]
    if in_size == out_size:
        return x
    idx, weights = _coefficients(in_size, out_size, mode)
    idx, weights = idx.to(x.device), weights.to(device=x.device, dtype=x.dtype)
    k = idx.shape[1]
    gathered = x.index_select(dim, idx.reshape(-1))  # axis `dim` becomes out*k long
    shape = list(x.shape)
    shape[dim:dim + 1] = [out_size, k]
    gathered = gathered.reshape(shape)
    wshape = [1] * len(shape)
    wshape[dim], wshape[dim + 1] = out_size, k
    out = (gathered * weights.reshape(wshape)).sum(dim + 1)
    return out if value_range is None else out.clamp(*value_range)


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bicubic",
           value_range: tuple[float, float] | None = (0.0, 1.0)) -> torch.Tensor:
    """Resize an (N, C, H, W) float tensor to ``size = (height, width)`` as Pillow would.

    Args:
        x: images, any float dtype.
        size: output (height, width).
        mode: ``bicubic`` (a = -0.5), ``lanczos`` (3 lobes) or ``nearest``.
        value_range: (low, high) the result of each resampling pass is clipped
            to, as Pillow clips to 0..255 (default: the library's [0, 1]);
            None keeps values unclipped (then sharp edges differ from Pillow).
    """
    if mode not in INTERPOLATIONS:
        raise ValueError(f"mode must be one of {INTERPOLATIONS}, got {mode!r}")
    x = _resize_axis(x, size[1], 3, mode, value_range)  # width first, as Pillow does
    return _resize_axis(x, size[0], 2, mode, value_range)


class Interpolation(nn.Module):
    """A classical upscaler with the same interface as the SR networks.

    Args:
        mode: ``bicubic``, ``lanczos`` or ``nearest``.
        scale: integer upscaling factor.
    """

    def __init__(self, mode: str = "bicubic", scale: int = 4):
        super().__init__()
        if mode not in INTERPOLATIONS:
            raise ValueError(f"mode must be one of {INTERPOLATIONS}, got {mode!r}")
        if scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self.mode, self.scale = mode, scale
        self.hparams = {"mode": mode, "scale": scale}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return resize(x, (h * self.scale, w * self.scale), self.mode)  # (N, C, sH, sW)
