"""PSNR / SSIM: the SR literature's convention, cross-checked against scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from conftest import smooth_rgb
from sr_core.metrics import psnr, quantize, rgb_to_y, ssim


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255


def _y_reference(arr: np.ndarray) -> np.ndarray:
    """BT.601 luma as MATLAB's rgb2ycbcr, float64, on the [0, 255] scale (no rounding)."""
    a = arr.astype(np.float64) / 255
    return 16 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]


def _pairs():
    rng = np.random.default_rng(7)
    hr = smooth_rgb(48, 40, seed=1)
    noisy = np.clip(hr.astype(int) + rng.integers(-12, 13, hr.shape), 0, 255).astype(np.uint8)
    blurred = ((hr[:-1, :-1].astype(int) + hr[1:, 1:] + hr[:-1, 1:] + hr[1:, :-1]) // 4).astype(np.uint8)
    hr_c = hr[:-1, :-1]
    shifted = np.roll(hr, 1, axis=1)
    other = smooth_rgb(48, 40, seed=5)
    return [("noisy", noisy, hr), ("blurred", blurred, hr_c), ("shifted", shifted, hr), ("other", other, hr)]


@pytest.mark.parametrize("name,sr,hr", _pairs(), ids=[p[0] for p in _pairs()])
@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_ssim_match_skimage_on_y(name, sr, hr, crop):
    ys, yh = _y_reference(sr), _y_reference(hr)
    if crop:
        ys, yh = ys[crop:-crop, crop:-crop], yh[crop:-crop, crop:-crop]
    ref_psnr = peak_signal_noise_ratio(yh, ys, data_range=255)
    ref_ssim = structural_similarity(yh, ys, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    p = psnr(_to_tensor(sr), _to_tensor(hr), crop_border=crop)
    s = ssim(_to_tensor(sr), _to_tensor(hr), crop_border=crop)
    assert p.dtype == torch.float64 and p.shape == (1,)
    assert p.item() == pytest.approx(ref_psnr, abs=1e-6)
    assert s.item() == pytest.approx(ref_ssim, abs=1e-6)


def test_rgb_psnr_ssim_match_skimage():
    """``y_channel=False``: all three channels, SSIM averaged over channels."""
    _, sr, hr = _pairs()[0]
    ref_psnr = peak_signal_noise_ratio(hr.astype(np.float64), sr.astype(np.float64), data_range=255)
    ref_ssim = structural_similarity(hr.astype(np.float64), sr.astype(np.float64), gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)
    assert psnr(_to_tensor(sr), _to_tensor(hr), y_channel=False).item() == pytest.approx(ref_psnr, abs=1e-6)
    assert ssim(_to_tensor(sr), _to_tensor(hr), y_channel=False).item() == pytest.approx(ref_ssim, abs=1e-6)


def test_identical_images_give_inf_psnr_and_unit_ssim(rgb_tensor):
    assert math.isinf(psnr(rgb_tensor, rgb_tensor).item()) and psnr(rgb_tensor, rgb_tensor).item() > 0
    assert ssim(rgb_tensor, rgb_tensor).item() == pytest.approx(1.0, abs=1e-12)


def test_known_mse_gives_known_db():
    hr = torch.zeros(1, 3, 16, 16)
    sr = torch.full((1, 3, 16, 16), 10 / 255)  # every channel off by 10 grey levels: MSE = 100
    assert psnr(sr, hr, y_channel=False).item() == pytest.approx(10 * math.log10(255 ** 2 / 100), abs=1e-9)
    # on Y a grey offset of 10 levels is 10 * 219 / 255 luma levels
    expected_y = 10 * math.log10(255 ** 2 / (10 * 219 / 255) ** 2)
    assert psnr(sr, hr).item() == pytest.approx(expected_y, abs=1e-9)


def test_white_and_black_map_to_235_and_16():
    y = rgb_to_y(torch.stack([torch.ones(3, 2, 2), torch.zeros(3, 2, 2)]).double())
    assert y.shape == (2, 1, 2, 2)
    assert torch.allclose(y[0], torch.full_like(y[0], 235.0))
    assert torch.allclose(y[1], torch.full_like(y[1], 16.0))


def test_rgb_to_y_rejects_other_channel_counts():
    with pytest.raises(ValueError):
        rgb_to_y(torch.rand(1, 4, 3, 3))


def test_border_crop_ignores_the_border():
    hr = torch.rand(1, 3, 20, 20)
    sr = hr.clone()
    sr[..., :4, :] = 1 - sr[..., :4, :]  # errors only in a 4-pixel top border
    sr[..., :, -4:] = 0
    assert math.isinf(psnr(sr, hr, crop_border=4).item())
    assert ssim(sr, hr, crop_border=4).item() == pytest.approx(1.0)
    assert psnr(sr, hr, crop_border=3).item() < 30
    assert psnr(sr, hr).item() < 30


def test_border_crop_too_large_and_ssim_too_small_raise():
    x = torch.rand(1, 3, 10, 10)
    with pytest.raises(ValueError):
        psnr(x, x, crop_border=5)
    with pytest.raises(ValueError):
        ssim(x, x)  # 10 x 10 is smaller than the 11 x 11 window
    with pytest.raises(ValueError):
        psnr(x, torch.rand(1, 3, 10, 11))


def test_values_are_rounded_to_the_8_bit_grid():
    """Sub-level differences vanish (as they would in a saved PNG); out-of-range values are clipped."""
    hr = quantize(torch.rand(1, 3, 12, 12))
    sr = hr + 0.4 / 255
    assert math.isinf(psnr(sr, hr).item())
    assert math.isinf(psnr(torch.full_like(hr, 1.3), torch.ones_like(hr)).item())


def test_batched_returns_one_value_per_image():
    rng = np.random.default_rng(0)
    hr = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    sr = (hr + torch.from_numpy(rng.normal(0, 0.03, hr.shape)).float()).clamp(0, 1)
    p, s = psnr(sr, hr, crop_border=2), ssim(sr, hr, crop_border=2)
    assert p.shape == s.shape == (3,)
    for i in range(3):
        assert p[i].item() == pytest.approx(psnr(sr[i:i + 1], hr[i:i + 1], crop_border=2).item(), abs=1e-9)
        assert s[i].item() == pytest.approx(ssim(sr[i:i + 1], hr[i:i + 1], crop_border=2).item(), abs=1e-9)
    # a 3-D (C, H, W) image is taken as a batch of one
    assert psnr(sr[0], hr[0]).shape == (1,)


def test_set5_bicubic_reference(set5_dir):
    """Set5 4x, LR by Pillow's bicubic, bicubic upscaling, Y channel, 4-pixel border: 28.43 dB / 0.811."""
    from sr_core.data import load_eval_set
    from sr_core.inference import upscale_tensor
    from sr_core.nets import build_preset

    model = build_preset("bicubic", scale=4)
    pairs = load_eval_set(set5_dir, 4)
    assert len(pairs) == 5
    ps, ss = [], []
    for _, lr, hr in pairs:
        sr = upscale_tensor(model, lr, tile=0)
        ps.append(psnr(sr, hr, crop_border=4).item())
        ss.append(ssim(sr, hr, crop_border=4).item())
    assert np.mean(ps) == pytest.approx(28.43, abs=0.01)
    assert np.mean(ss) == pytest.approx(0.811, abs=0.001)
