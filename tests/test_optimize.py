"""The inference rewrites of sr_core.optimize compute what the plain network computes (within 0.5/255),
and the tiled pipeline gives the same output batched or not, optimised or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import smooth_rgb
from sr_core import upscale, upscale_tensor
from sr_core.io import to_image
from sr_core.nets import SRResNet
from sr_core.nets.blocks import SeparableConv2d
from sr_core.optimize import (PhaseTail, cached_prepare, fold_batchnorm, fuse_for_inference, phase_tail,
                              prepare_for_inference)

TOL = 0.5 / 255


def _tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(smooth_rgb(width, height, seed)).permute(2, 0, 1)[None].float() / 255


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Running statistics and affine parameters far from the identity, so folding them matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
    return model


def _net(conv: str = "standard", norm: str = "batch", scale: int = 4, output: str = "linear",
         global_skip: str = "bicubic", seed: int = 0) -> SRResNet:
    torch.manual_seed(seed)
    model = SRResNet(num_features=8, num_blocks=2, scale=scale, conv=conv, norm=norm, output=output,
                     global_skip=global_skip if output == "linear" else "none")
    return _randomise_bn(model, seed).eval()


def _count(model: nn.Module, kind) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


@pytest.mark.parametrize("conv", ["standard", "separable"])
@pytest.mark.parametrize("output", ["linear", "tanh"])
def test_fused_matches_unfused(conv, output):
    model = _net(conv, output=output)
    x = _tensor(19, 14)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_for_inference(model)
    assert _count(model, nn.BatchNorm2d) > 0 and _count(fused, nn.BatchNorm2d) == 0
    with torch.inference_mode():
        assert _max_diff(fused(x), model(x)) <= TOL
    # the network it was given is untouched (training and save_pretrained keep working on it)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_separable_bn_folds_into_pointwise():
    conv = SeparableConv2d(6, 5, 3, bias=False)
    bn = _randomise_bn(nn.Sequential(nn.BatchNorm2d(5)))[0].eval()
    x = torch.rand(1, 6, 9, 9)
    with torch.no_grad():
        ref = bn(conv(x))
        fold_batchnorm(conv, bn)
        assert conv.depthwise.bias is None and conv.pointwise.bias is not None
        assert _max_diff(conv(x), ref) < 1e-5


def test_training_mode_network_is_left_alone():
    model = _net().train()
    assert fuse_for_inference(model) is model
    assert prepare_for_inference(model) is model


def test_plain_conv_bn_attribute_pairs_are_found_by_tracing():
    class Peerish(nn.Module):  # like leftthomas/SRGAN: conv1/bn1 attributes, no ConvBlock
        def __init__(self):
            super().__init__()
            self.scale = 1
            self.conv1, self.bn1 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
            self.conv2, self.bn2 = nn.Conv2d(4, 3, 3, padding=1), nn.BatchNorm2d(3)

        def forward(self, x):
            y = self.conv2(torch.relu(self.bn1(self.conv1(x))))
            return self.bn2(y) + y  # conv2's output is used twice: bn2 must NOT be folded into it

    model = _randomise_bn(Peerish()).eval()
    fused = fuse_for_inference(model)
    x = torch.rand(1, 3, 10, 10)
    with torch.inference_mode():
        assert _max_diff(fused(x), model(x)) < 1e-5
    assert isinstance(fused.bn1, nn.Identity)  # safe pair folded


@pytest.mark.parametrize("conv", ["standard", "separable"])
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_phase_domain_tail_matches(conv, scale):
    model = _net(conv, norm="none", scale=scale)
    rewritten = prepare_for_inference(model, tail=False, channels_last=False)
    assert phase_tail(rewritten, max_mac_ratio=None) == 1
    assert _count(rewritten, PhaseTail) == 1
    assert _count(rewritten, nn.PixelShuffle) == _count(model, nn.PixelShuffle)  # moved to the 3-channel output
    x = _tensor(13, 11)
    with torch.inference_mode():
        assert _max_diff(rewritten(x), model(x)) <= 1e-4


@pytest.mark.parametrize("conv, expected", [("standard", 1), ("separable", 0)])
def test_phase_tail_only_where_it_does_not_multiply_the_work(conv, expected):
    # a dense 9x9 tail costs 1.23x in the phase domain (rewritten); a separable one 3.6x (left alone)
    model = _net(conv, norm="none", scale=4)
    assert _count(prepare_for_inference(model, channels_last=False), PhaseTail) == expected


def test_phase_tail_single_slope_prelu_and_plain_sequential():
    torch.manual_seed(0)

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.shuffle, self.prelu = nn.Conv2d(8, 32, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()

        def forward(self, x):
            return self.prelu(self.shuffle(self.conv(x)))

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Up(), nn.Conv2d(8, 3, 9, padding=4)).eval()
    ref_net = prepare_for_inference(net, tail=False, channels_last=False)
    copy = prepare_for_inference(net, channels_last=False)
    assert _count(copy, PhaseTail) == 1 and phase_tail(ref_net) == 1
    x = torch.rand(1, 3, 9, 12)
    with torch.inference_mode():
        assert _max_diff(copy(x), net(x)) <= 1e-4
        assert _max_diff(ref_net(x), net(x)) <= 1e-4


@pytest.mark.parametrize("conv", ["standard", "separable"])
def test_channels_last_matches(conv):
    model = _net(conv)
    nchw = prepare_for_inference(model, channels_last=False)
    nhwc = prepare_for_inference(model, channels_last=True)
    x = _tensor(21, 15)
    with torch.inference_mode():
        a = nchw(x)
        b = nhwc(x.contiguous(memory_format=torch.channels_last))
    assert b.is_contiguous(memory_format=torch.channels_last)
    assert _max_diff(a, b) <= TOL
    with torch.inference_mode():
        assert _max_diff(b, model(x)) <= TOL


@pytest.mark.parametrize("batch_size", [2, 3, 100])
def test_batched_tiles_match_one_at_a_time(batch_size):
    model = _net(norm="none")
    x = _tensor(53, 37)
    calls = []
    one = upscale_tensor(model, x, tile=24, tile_overlap=8, batch_size=1)
    batched = upscale_tensor(model, x, tile=24, tile_overlap=8, batch_size=batch_size,
                             progress=lambda d, t: calls.append((d, t)))
    assert batched.shape == one.shape == (1, 3, 37 * 4, 53 * 4)
    assert _max_diff(batched, one) <= TOL
    total = calls[-1][1]
    assert total == 3 * 2 and calls == [(i, total) for i in range(1, total + 1)]  # one report per tile


@pytest.mark.parametrize("tile", [0, 24])
def test_optimised_pipeline_matches_reference(tile):
    model = _net("separable")
    x = _tensor(41, 30)
    ref = upscale_tensor(model, x, tile=tile, tile_overlap=8, optimize=False)
    fast = upscale_tensor(model, x, tile=tile, tile_overlap=8)
    assert _max_diff(fast, ref) <= TOL


@pytest.mark.parametrize("rows", [None, 7])
def test_image_output_assembled_in_bands_matches_tensor_path(rows, monkeypatch):
    """``upscale`` builds the 8-bit image band by band, each band a few rows at a time (``rows``: chunks of 7
    rows, so that bands split unevenly); the pixels are those of the whole float output converted at once."""
    if rows is not None:
        monkeypatch.setattr("sr_core.inference._ROWS_PER_CONVERSION", rows)
    model = _net(norm="none")
    img = to_image(_tensor(45, 38))
    out = upscale(model, img, tile=20, tile_overlap=4)
    ref = to_image(upscale_tensor(model, _tensor(45, 38), tile=20, tile_overlap=4))
    assert out.size == ref.size and out.mode == "RGB"
    assert np.abs(np.asarray(out).astype(int) - np.asarray(ref).astype(int)).max() == 0


def test_cache_follows_weight_updates():
    model = _net(norm="none")
    a = cached_prepare(model)
    assert cached_prepare(model) is a
    assert cached_prepare(model, channels_last=False) is not a  # other options, other copy
    x = _tensor(10, 9)
    before = upscale_tensor(model, x, tile=0)
    with torch.no_grad():
        model.tail.bias.add_(0.05)  # an optimizer step changes parameters in place
    after = upscale_tensor(model, x, tile=0)
    assert cached_prepare(model) is not a
    with torch.inference_mode():
        assert _max_diff(after, model(x).clamp(0, 1)) <= TOL
    assert _max_diff(after, before) > 0.01


def test_low_precision_falls_back_to_float32_where_it_overflows():
    class Overflows(nn.Module):
        """Two 1x1 convolutions by 300 and two by 1/300: inf in float16 (max 65504) for inputs above 0.73."""

        def __init__(self):
            super().__init__()
            self.scale = 1
            self.convs = nn.Sequential(*[nn.Conv2d(3, 3, 1, bias=False) for _ in range(4)])
            with torch.no_grad():
                for conv, gain in zip(self.convs, (300.0, 300.0, 1 / 300, 1 / 300)):
                    conv.weight.copy_(torch.eye(3)[:, :, None, None] * gain)

        def forward(self, x):
            return self.convs(x)

    model = Overflows().eval()
    x = torch.linspace(0, 1, 64).reshape(1, 1, 8, 8).expand(1, 3, 8, 8).contiguous()
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.float16):
            assert not torch.isfinite(model(x)).all()
    except RuntimeError as err:  # a build without float16 CPU convolutions
        pytest.skip(f"float16 not supported on this CPU build: {err}")
    out = upscale_tensor(model, x, tile=0, dtype=torch.float16)
    assert torch.isfinite(out).all() and _max_diff(out, x) <= TOL
    assert next(model.parameters()).dtype == torch.float32  # the caller's network is not cast


def test_bfloat16_stays_close():
    model = _net(norm="none")
    with torch.no_grad():
        model.tail.weight.mul_(0.1)  # a residual of a few grey levels, like a trained network's
    x = _tensor(30, 22)
    ref = upscale_tensor(model, x, tile=0)
    low = upscale_tensor(model, x, tile=0, dtype="bfloat16")
    assert (low - ref).abs().mean().item() < 0.5 / 255 and _max_diff(low, ref) < 4 / 255


def test_training_evaluation_sees_weights_changed_without_a_version_bump():
    """CUDA's fused foreach steps (Adam, the EMA's lerp) change weights without bumping their version counters;
    a GPU run once validated a stale cached copy for 5,000 iterations. ``.data`` writes do the same on a CPU."""
    from sr_core.metrics import evaluate

    model = _net(norm="none").eval()
    lr, hr = _tensor(10, 9), _tensor(40, 36)
    pairs = [("a", lr, hr)]
    first = evaluate(model, pairs, 4)["psnr"]
    version = model.tail.bias._version
    model.tail.bias.data.add_(0.2)
    assert model.tail.bias._version == version  # the cache key alone cannot see this change
    assert abs(evaluate(model, pairs, 4)["psnr"] - first) > 0.01


def test_ema_update_bumps_the_versions_it_changes():
    from train.loop import update_ema

    model, ema = _net(norm="none"), _net(norm="none")
    before = [p._version for p in ema.parameters()]
    update_ema(ema, model, 0.999, 100)
    assert all(p._version > v for p, v in zip(ema.parameters(), before))
