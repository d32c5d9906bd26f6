"""``sr_core.degradations``: Real-ESRGAN's second-order degradation model.

Determinism per (seed, index), sampled parameters within their ranges, every
kernel normalised, noise and JPEG really applied (with the expected strength),
output size HR / scale, the special cases (the ``bicubic`` and ``blur``
degradations of ``sr_core.data``), the BSRGAN order, and the ``SRTrainSet``
hook. All on small synthetic images with fixed seeds: deterministic and fast.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_rgb
from sr_core import degradations as D
from sr_core.data import SRTrainSet, degrade


def ramp(h: int = 64, w: int = 64) -> np.ndarray:
    """A smooth uint8 picture without noise (JPEG blocks show on it)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    arr = np.stack([40 + 170 * xx / (w - 1), 60 + 120 * yy / (h - 1), 128 + 60 * np.sin(xx / 9 + yy / 13)], -1)
    return np.round(arr).astype(np.uint8)


def only(**on) -> D.DegradationConfig:
    """Every step off (the ``bicubic`` special case with subsampling), then the given changes (``first`` /
    ``second``: dicts of changes to that order)."""
    return D.seed_config("bicubic").replace(final_resize_modes=("subsample",), **on)


# --- determinism and sizes -------------------------------------------------------------------------

def test_same_seed_and_index_give_the_same_lr():
    hr = smooth_rgb(96, 96, seed=1)
    a, rec_a = D.degrade_array(hr, 4, "real", seed=3, index=7)
    b, rec_b = D.degrade_array(hr, 4, "real", seed=3, index=7)
    assert np.array_equal(a, b) and rec_a == rec_b
    c, _ = D.degrade_array(hr, 4, "real", seed=3, index=8)
    d, _ = D.degrade_array(hr, 4, "real", seed=4, index=7)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


@pytest.mark.parametrize("config", ["real", "real-mild", D.DegradationConfig(order="bsrgan")],
                         ids=["real", "mild", "bsrgan"])
@pytest.mark.parametrize("size", [(192, 192), (64, 96)])
def test_output_is_hr_over_scale_on_the_8bit_grid(config, size):
    hr = smooth_rgb(size[1], size[0], seed=2)
    for index in range(6):
        lr, _ = D.degrade_array(hr, 4, config, seed=0, index=index)
        assert lr.shape == (size[0] // 4, size[1] // 4, 3) and lr.dtype == np.float32
        assert lr.min() >= 0 and lr.max() <= 1
        assert np.allclose(lr * 255, np.round(lr * 255), atol=1e-4)


def test_float_input_and_bad_sizes():
    hr = smooth_rgb(32, 32)
    a, _ = D.degrade_array(hr, 4, "real", 0, 5)
    b, _ = D.degrade_array(hr.astype(np.float32) / 255, 4, "real", 0, 5)
    assert np.abs(a - b).max() <= 1 / 255 + 1e-6  # same draws; float input only rounds differently
    with pytest.raises(ValueError):
        D.degrade_array(smooth_rgb(30, 32), 4)
    with pytest.raises(ValueError):
        D.get_config("nonsense")
    with pytest.raises(ValueError):
        D.DegradationConfig(kernel_range=(8,))


def test_public_boundary_pil_and_nchw_tensor():
    hr = smooth_rgb(64, 48, seed=3)
    out = D.degrade_real(Image.fromarray(hr), 4, "real", seed=1, index=2)
    assert isinstance(out, Image.Image) and out.size == (16, 12)
    ref, _ = D.degrade_array(hr, 4, "real", seed=1, index=2)
    assert np.array_equal(np.asarray(out), np.round(ref * 255).astype(np.uint8))
    x = torch.from_numpy(np.stack([hr, smooth_rgb(64, 48, seed=4)])).permute(0, 3, 1, 2).float() / 255
    lr, recs = D.degrade_real(x, 4, "real-mild", seed=1, index=10, return_record=True)
    assert lr.shape == (2, 3, 12, 16) and lr.dtype == torch.float32 and len(recs) == 2
    second, _ = D.degrade_array(x[1].permute(1, 2, 0).numpy(), 4, "real-mild", seed=1, index=11)
    assert torch.equal(lr[1], torch.from_numpy(second).permute(2, 0, 1))


# --- parameter ranges ------------------------------------------------------------------------------

def test_sampled_parameters_lie_in_their_ranges():
    cfg = D.get_config("real")
    hr = smooth_rgb(64, 64, seed=5)
    seen = Counter()
    for index in range(150):
        lr, record = D.degrade_array(hr, 4, cfg, seed=11, index=index)
        finals = [r for r in record if r["op"] == "resize" and r["stage"] == "final"]
        assert len(finals) == 1 and finals[0]["size"] == [16, 16] and finals[0]["mode"] in D.RESIZE_MODES
        for r in record:
            seen[(r["op"], r["stage"])] += 1
            if r["op"] == "blur":
                assert r["size"] % 2 == 1 and 7 <= r["size"] <= 21
                if r["kernel"] == "sinc":
                    lo = math.pi / 3 if r["size"] < 13 or r["stage"] == "final" else math.pi / 5
                    assert lo <= r["omega_c"] <= math.pi
                else:
                    order = cfg.first if r["stage"] == 1 else cfg.second
                    s_lo, s_hi = order.blur_sigma
                    assert s_lo <= r["sigma_x"] <= s_hi and s_lo <= r["sigma_y"] <= s_hi
                    assert -math.pi <= r["theta"] <= math.pi
                    if r["kernel"].startswith("generalized"):
                        assert order.betag_range[0] <= r["beta"] <= order.betag_range[1]
                    elif r["kernel"].startswith("plateau"):
                        assert order.betap_range[0] <= r["beta"] <= order.betap_range[1]
            elif r["op"] == "jpeg":
                assert isinstance(r["quality"], int) and 30 <= r["quality"] <= 95
            elif r["op"] == "noise":
                if r["type"] == "gaussian":
                    assert 1 <= r["sigma"] <= (30 if r["stage"] == 1 else 25)
                else:
                    assert 0.05 <= r["scale"] <= (3 if r["stage"] == 1 else 2.5)
            elif r["op"] == "resize" and r["stage"] != "final":
                lo, hi = (cfg.first if r["stage"] == 1 else cfg.second).resize_range
                assert lo <= r["factor"] <= hi and r["mode"] in D.RESIZE_MODES
    # Real-ESRGAN always blurs, adds noise and compresses in the first order; the second blur has p = 0.8
    assert seen[("blur", 1)] == seen[("noise", 1)] == seen[("jpeg", 1)] == seen[("jpeg", "final")] == 150
    assert 0.7 < seen[("blur", 2)] / 150 < 0.9
    assert 0.7 < seen[("blur", "final")] / 150 < 0.9  # final sinc, p = 0.8


def test_kernel_types_follow_the_papers_probabilities():
    cfg = D.get_config("real")
    rng = np.random.default_rng(0)
    kinds = Counter(D.sample_kernel(rng, cfg)[1]["kernel"] for _ in range(3000))
    assert abs(kinds["sinc"] / 3000 - 0.1) < 0.02
    non_sinc = 3000 - kinds["sinc"]
    for kind, p in zip(cfg.kernel_list, cfg.kernel_prob):
        assert abs(kinds[kind] / non_sinc - p) < 0.03, kind


def test_defaults_are_real_esrgan_x4plus():
    cfg = D.DegradationConfig()
    assert cfg.kernel_range == tuple(range(7, 22, 2)) and cfg.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    one, two = cfg.first, cfg.second
    assert (one.sinc_prob, one.blur_sigma, one.resize_prob, one.resize_range) == (0.1, (0.2, 3.0), (0.2, 0.7, 0.1),
                                                                               (0.15, 1.5))
    assert (two.blur_prob, two.blur_sigma, two.resize_prob, two.resize_range, two.noise_range) == (
        0.8, (0.2, 1.5), (0.3, 0.4, 0.3), (0.3, 1.2), (1.0, 25.0))
    assert cfg.final_sinc_prob == 0.8 and one.jpeg_range == two.jpeg_range == (30, 95)
    mild = D.get_config("real-mild")
    assert mild.first.noise_range[1] < one.noise_range[1] and mild.first.jpeg_range[0] > one.jpeg_range[0]
    assert mild.first.blur_sigma[1] < one.blur_sigma[1]


# --- kernels ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", D.KERNEL_TYPES)
@pytest.mark.parametrize("size", [7, 21])
def test_every_kernel_type_is_normalised(kind, size):
    k = D.blur_kernel(kind, size, 1.7, 0.6, theta=0.4, beta=1.5)
    assert k.shape == (size, size) and abs(k.sum() - 1) < 1e-12 and k.min() >= 0
    assert k[size // 2, size // 2] == k.max()
    assert np.allclose(k, k[::-1, ::-1])  # point-symmetric: convolution and correlation agree
    if not kind.endswith("aniso"):
        assert np.allclose(k, k.T)


@pytest.mark.parametrize("size", [7, 13, 21])
def test_sinc_kernel_is_normalised_and_rings(size):
    k = D.sinc_kernel(size, math.pi / 2)  # first zero of J1 at r = 3.83 / omega = 2.4 px: ringing within 7 px
    assert abs(k.sum() - 1) < 1e-12 and np.allclose(k, k.T) and k.min() < 0 < k.max() == k[size // 2, size // 2]
    rng = np.random.default_rng(1)
    for _ in range(50):  # kernels as sampled, sinc included
        kernel, params = D.sample_kernel(rng, D.get_config("real").replace(second={"sinc_prob": 0.5}),
                                         second=True)
        assert kernel.shape == (params["size"],) * 2 and abs(kernel.sum() - 1) < 1e-12


def test_bessel_j1_matches_scipy():
    special = pytest.importorskip("scipy.special")
    x = np.linspace(0, 50, 2001)
    assert np.abs(D.bessel_j1(x) - special.j1(x)).max() < 1e-12


# --- noise and JPEG applied ------------------------------------------------------------------------

def test_gaussian_noise_has_the_drawn_std():
    flat = np.full((256, 256, 3), 128, np.uint8)
    cfg = only(first={"noise_prob": 1.0, "gaussian_noise_prob": 1.0, "noise_range": (10.0, 10.0),
                      "gray_noise_prob": 0.0})
    lr, record = D.degrade_array(flat, 4, cfg, seed=0, index=0)
    assert record == [{"op": "noise", "stage": 1, "type": "gaussian", "sigma": 10.0, "gray": False},
                      {"op": "resize", "stage": "final", "mode": "subsample", "size": [64, 64]}]
    std = (lr * 255 - 128).std()
    assert abs(std - 10.0) < 0.4  # subsampling keeps the per-pixel noise; rounding adds 1/12 level^2
    gray, _ = D.degrade_array(flat, 4, cfg.replace(first={"gray_noise_prob": 1.0}), seed=0, index=0)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    assert (gray * 255 - 128).std() > 9


def test_poisson_noise_has_the_expected_variance():
    rng = np.random.default_rng(0)
    img = rng.integers(64, 192, (128, 128, 3)).astype(np.float32) / 255  # 128 levels -> vals = 128
    out = D.add_poisson_noise(img, np.random.default_rng(1), scale=1.0, gray=False)
    expected = float(np.mean(img / 128))  # Var[Poisson(x v) / v] = x / v
    assert abs(np.var(out - img) / expected - 1) < 0.05
    grey = D.add_poisson_noise(img, np.random.default_rng(1), scale=1.0, gray=True) - img
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 1e-6 and abs(np.var(grey) / expected - 1) < 0.1


def _blockiness(img: np.ndarray) -> float:
    """Mean |horizontal luma step| across the 8x8 block columns over the mean elsewhere (1 without blocks)."""
    d = np.abs(np.diff(img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]), axis=1)).mean(axis=0)
    at = np.zeros(d.shape, bool)
    at[7::8] = True
    return d[at].mean() / d[~at].mean()


def test_jpeg_is_applied_and_makes_8x8_blocks():
    hr = ramp(256, 256)
    clean, _ = D.degrade_array(hr, 4, only(), 0, 0)
    # the last JPEG after the resize to LR size, so that its 8x8 grid is the LR image's: seed 2 draws that order
    cfg = only(second={"jpeg_prob": 1.0, "jpeg_range": (30, 30)})
    lr, record = D.degrade_array(hr, 4, cfg, 2, 0)
    assert [r["op"] for r in record] == ["resize", "jpeg"] and record[1]["quality"] == 30
    assert np.abs(lr - clean).mean() * 255 > 0.5
    assert _blockiness(clean) < 1.05 and _blockiness(lr) > 1.3  # on a smooth ramp: 1.00 and 1.44
    assert _blockiness(lr - clean) > 2.0  # the error jumps at block edges (2.7)
    q95 = D.jpeg(clean, 95)
    assert np.abs(q95 - clean).mean() < np.abs(D.jpeg(clean, 30) - clean).mean()


# --- special cases: the seeds' degradations --------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_bicubic_special_case_is_exactly_sr_core_data_degrade(seed):
    hr = smooth_rgb(96, 64, seed=seed)
    ours, record = D.degrade_array(hr, 4, D.seed_config("bicubic"), seed=seed, index=0)
    ref = np.asarray(degrade(Image.fromarray(hr), 4, "bicubic"))
    assert record == [{"op": "resize", "stage": "final", "mode": "pil_bicubic", "size": [16, 24]}]
    assert np.array_equal(np.round(ours * 255).astype(np.uint8), ref)


def test_blur_special_case_matches_up_to_pillows_box_approximation():
    hr = smooth_rgb(96, 96, seed=4)
    ours, record = D.degrade_array(hr, 4, D.seed_config("blur", 1.6), seed=0, index=0)
    ref = np.asarray(degrade(Image.fromarray(hr), 4, "blur", 1.6)).astype(np.float64)
    assert [r["op"] for r in record] == ["blur", "resize"] and record[0]["sigma_x"] == 1.6
    diff = np.abs(ours * 255 - ref)
    # Pillow's GaussianBlur is three box blurs: the same blur to within about a level, not bit for bit
    assert diff.mean() < 1.0 and diff.max() <= 12


# --- orders ----------------------------------------------------------------------------------------

def test_realesrgan_order_is_first_then_second_then_final():
    hr = smooth_rgb(64, 64, seed=6)
    rank = {1: 0, 2: 1, "final": 2}
    for index in range(20):
        _, record = D.degrade_array(hr, 4, "real", 0, index)
        stages = [rank[r["stage"]] for r in record]
        assert stages == sorted(stages)
        assert record[-1]["op"] in ("jpeg", "blur", "resize") and record[-1]["stage"] == "final"


def test_bsrgan_shuffled_order():
    cfg = D.DegradationConfig(order="bsrgan", final_sinc_prob=1.0).replace(first={"resize_prob": (0, 1, 0)},
                                                                         second={"blur_prob": 1.0})
    hr = smooth_rgb(96, 96, seed=7)
    orders = set()
    for index in range(12):
        lr, record = D.degrade_array(hr, 4, cfg, 0, index)
        assert lr.shape == (24, 24, 3)
        steps = [(r["op"], r["stage"]) for r in record]
        assert len(steps) == 9 and steps[-1] == ("jpeg", "final")  # 8 shuffled steps, then the last JPEG
        assert steps.index(("resize", 1)) < steps.index(("resize", "final"))
        orders.add(tuple(steps))
    assert len(orders) >= 10  # really shuffled
    with pytest.raises(ValueError):
        D.DegradationConfig(order="random")


# --- the SRTrainSet hook ---------------------------------------------------------------------------

@pytest.fixture
def photo_dir(tmp_path):
    for i in range(2):
        Image.fromarray(smooth_rgb(80, 72, seed=i)).save(tmp_path / f"p{i}.png")
    return tmp_path


def test_srtrainset_real(photo_dir):
    real = SRTrainSet([photo_dir], crop_size=64, scale=4, degradation="real", seed=5)
    again = SRTrainSet([photo_dir], crop_size=64, scale=4, degradation="real", seed=5)
    bicubic = SRTrainSet([photo_dir], crop_size=64, scale=4, degradation="bicubic", seed=5)
    for k in (0, 1, 17):
        lr, hr = real[k]
        assert lr.shape == (3, 16, 16) and hr.shape == (3, 64, 64) and lr.dtype == torch.float32
        lr2, hr2 = again[k]
        assert torch.equal(lr, lr2) and torch.equal(hr, hr2)
        lr_b, hr_b = bicubic[k]
        assert torch.equal(hr, hr_b)  # same crop and flips: the degradation draws after them
        assert not torch.equal(lr, lr_b)
        # bicubic samples are unchanged: sr_core.data.degrade of the same crop
        ref = np.array(degrade(Image.fromarray(np.round(hr_b.permute(1, 2, 0).numpy() * 255).astype(np.uint8)), 4))
        assert torch.equal(lr_b, torch.from_numpy(ref).permute(2, 0, 1).float() / 255)
    mild = SRTrainSet([photo_dir], crop_size=64, degradation="real-mild", seed=5)
    custom = SRTrainSet([photo_dir], crop_size=64, degradation="real", seed=5,
                        degradation_config=D.seed_config("bicubic"))
    assert mild[0][0].shape == (3, 16, 16)
    assert torch.equal(custom[3][0], bicubic[3][0])  # the bicubic special case through the hook
    with pytest.raises(ValueError):
        SRTrainSet([photo_dir], crop_size=64, degradation="blur", degradation_config=D.seed_config("blur"))


def test_real_mix_draws_its_components_per_sample(tmp_path):
    """``real-mix``: about 30 % of the samples are plain bicubic (exactly ``degrade``'s LR), the rest go through
    the pipeline; sample k is the same on every call."""
    from sr_core.data import MIXES

    Image.fromarray(smooth_rgb(160, 160, seed=5)).save(tmp_path / "a.png")
    ds = SRTrainSet([tmp_path], crop_size=32, scale=4, degradation="real-mix", seed=3)
    n, clean = 200, 0
    for k in range(n):
        lr, hr = ds[k]
        bicubic = torch.from_numpy(np.asarray(degrade(Image.fromarray(
            (hr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)), 4)).copy()).permute(2, 0, 1) / 255
        clean += bool(torch.allclose(lr, bicubic, atol=1e-6))
    want = dict((kind, p) for kind, p in MIXES["real-mix"])["bicubic"]
    assert abs(clean / n - want) < 0.1, clean
    assert torch.equal(ds[17][0], ds[17][0])


def test_real_mix_components_can_be_chosen(tmp_path):
    """``mix=``: another split of the components (all bicubic here gives exactly ``degrade``'s LR); bad
    specifications are refused with the reason."""
    from sr_core.data import parse_mix

    assert parse_mix("bicubic:0.5, real-mild:0.2,real:0.3") == (("bicubic", 0.5), ("real-mild", 0.2), ("real", 0.3))
    for bad, why in [("bicubic:0.5,real:0.4", "add up"), ("bicubic:0.5,bicubic:0.5", "twice"),
                     ("sharp:1", "KIND:P"), ("bicubic", "KIND:P"), ("bicubic:x", "KIND:P"),
                     ("bicubic:1.5,real:-0.5", "KIND:P")]:
        with pytest.raises(ValueError, match=why):
            parse_mix(bad)
    Image.fromarray(smooth_rgb(96, 96, seed=2)).save(tmp_path / "a.png")
    clean = SRTrainSet([tmp_path], crop_size=32, degradation="real-mix", seed=1, mix="bicubic:1")
    for k in range(5):
        lr, hr = clean[k]
        want = degrade(Image.fromarray((hr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)), 4)
        assert torch.allclose(lr, torch.from_numpy(np.asarray(want).copy()).permute(2, 0, 1) / 255, atol=1e-6)
    with pytest.raises(ValueError, match="real-mix"):
        SRTrainSet([tmp_path], crop_size=32, degradation="real", mix="bicubic:1")
