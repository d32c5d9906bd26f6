"""PSNR and SSIM as the SR literature reports them.

Convention (the one of BasicSR and of the MATLAB scripts behind published tables):

* inputs are RGB float tensors (N, 3, H, W) in [0, 1], in **RGB** order;
* both images are first rounded to the 8-bit grid (as saving a PNG would);
* by default only the luma is compared: Y of ITU-R BT.601 as MATLAB's
  ``rgb2ycbcr`` computes it, ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` on the
  [0, 255] scale (white is 235, black 16), kept in float64 without rounding;
* ``crop_border`` pixels are removed from each side (use the scale factor);
* SSIM uses the 11x11 Gaussian window with sigma 1.5 of Wang et al. (2004),
  valid filtering, K1 = 0.01, K2 = 0.03, L = 255.

Every function returns one value per image (a float64 tensor of shape (N,));
tables report the mean over images. ``evaluate`` is the one evaluation loop:
a model over ``(name, lr, hr)`` pairs (``sr_core.data.load_eval_set``), for
``sr-core evaluate``, training validation and every benchmark.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .inference import upscale_tensor
from .optimize import forget_prepared

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the 8-bit grid (values stay in [0, 1])."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) BT.601 luma on the [16, 235] scale."""
    if x.shape[-3] != 3:
        raise ValueError(f"rgb_to_y expects 3 channels, got {x.shape[-3]}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True) + 16.0


def _prepare(sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    if sr.dim() == 3:
        sr, hr = sr[None], hr[None]
    sr, hr = quantize(sr.double()), quantize(hr.double())
    if y_channel and sr.shape[1] == 3:
        sr, hr = rgb_to_y(sr), rgb_to_y(hr)
    else:
        sr, hr = sr * 255, hr * 255
    if crop_border > 0:
        if min(sr.shape[-2:]) <= 2 * crop_border:
            raise ValueError(f"image {tuple(sr.shape[-2:])} too small for a {crop_border}-pixel border crop")
        sr = sr[..., crop_border:-crop_border, crop_border:-crop_border]
        hr = hr[..., crop_border:-crop_border, crop_border:-crop_border]
    return sr, hr


def psnr(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, y_channel: bool = True) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per image (inf for identical images)."""
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    mse = ((sr - hr) ** 2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(255.0 ** 2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, y_channel: bool = True) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004), one value per image, mean over channels."""
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    c = sr.shape[1]
    if min(sr.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {tuple(sr.shape[-2:])}")
    # The 2-D Gaussian is the outer product of a 1-D one: filtering rows then columns gives the same
    # valid-mode result (to ~1e-15) about 4x faster than one 11x11 float64 convolution.
    g = _gaussian_window(device=sr.device)
    g = g.sum(dim=1) / g.sum()
    row, col = g.view(1, 1, 1, 11).expand(c, 1, 1, 11), g.view(1, 1, 11, 1).expand(c, 1, 11, 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(x):
        return F.conv2d(F.conv2d(x, col, groups=c), row, groups=c)  # valid filtering

    mu_x, mu_y = filt(sr), filt(hr)
    var_x = filt(sr * sr) - mu_x ** 2
    var_y = filt(hr * hr) - mu_y ** 2
    cov = filt(sr * hr) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3))


# per-image values as the reports store them (decimals), when ``evaluate(rounded=True)``
_DECIMALS = {"psnr": 4, "ssim": 5}


@torch.no_grad()
def evaluate(model: nn.Module, pairs, scale: int, tile: int | None = 0, dtype: torch.dtype | str | None = None,
             rounded: bool = False, extra: dict[str, Callable[[torch.Tensor], float]] | None = None) -> dict:
    """Y-PSNR / SSIM (border = ``scale``) of ``model`` over ``(name, lr, hr)`` pairs, whole images by default
    (``hr`` None: no reference, only the ``extra`` metrics).

    Returns the means (``psnr``, ``ssim`` and one per ``extra`` metric), ``per_image`` values, ``images``,
    ``seconds_per_image`` and ``mpx_per_s`` (output megapixels per second of the forward passes). The model runs
    in eval mode and is put back in its mode after.

    Args:
        tile, dtype: as ``upscale_tensor``'s (``tile=0``: whole image; ``dtype=None``: float32).
        rounded: round each image's values before the means, as the benchmark reports store them (PSNR to 4
            decimals, SSIM to 5, ``extra`` metrics to 4).
        extra: more per-image metrics of the output alone, ``{name: fn(sr) -> float}`` (NIQE in ``benchmarks``).
    """
    extra = extra or {}
    was_training = model.training
    model.eval()
    forget_prepared(model)  # weights may have changed without a version bump (CUDA foreach optimiser steps)
    per_image, seconds, mpx = {}, 0.0, 0.0
    try:
        for name, lr, hr in pairs:
            t = time.perf_counter()
            sr = upscale_tensor(model, lr, tile=tile, dtype=dtype)
            seconds += time.perf_counter() - t
            mpx += sr.shape[-1] * sr.shape[-2] / 1e6
            values = {} if hr is None else {"psnr": psnr(sr, hr, scale).item(), "ssim": ssim(sr, hr, scale).item()}
            values.update((k, fn(sr)) for k, fn in extra.items())
            per_image[name] = {k: round(v, _DECIMALS.get(k, 4)) for k, v in values.items()} if rounded else values
    finally:
        model.train(was_training)
    n = len(per_image)
    means = {k: sum(v[k] for v in per_image.values()) / n for k in next(iter(per_image.values()))}
    return {**means, "images": n, "seconds_per_image": seconds / n, "mpx_per_s": mpx / seconds if seconds else 0.0,
            "per_image": per_image}
