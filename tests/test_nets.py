"""Networks: output shapes at every scale, parameter counts, argument checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sr_core.nets import (ARCHS, NET_PRESETS, PRESETS, SRCNN, Interpolation, SRGANDiscriminator, SRResNet,
                          build_model, build_preset, count_parameters)
from sr_core.nets.blocks import SeparableConv2d

TINY = dict(num_features=8, num_blocks=1)


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("conv", ["standard", "separable"])
@pytest.mark.parametrize("norm", ["batch", "none"])
def test_srresnet_shapes(scale, conv, norm):
    model = SRResNet(scale=scale, conv=conv, norm=norm, **TINY).eval()
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, 12 * scale, 10 * scale)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    # exactly log2(scale) sub-pixel stages (Swift-SRGAN's release stacks scale // 2 of them: 8x became 16x)
    assert len(model.upsample) == {2: 1, 4: 2, 8: 3}[scale]


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_tanh_output_is_in_unit_range(scale):
    model = SRResNet(scale=scale, output="tanh", **TINY).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, 9, 11) * 4 - 2)  # inputs outside [0, 1] drive the tail hard
    assert y.shape == (1, 3, 9 * scale, 11 * scale)
    assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("conv", ["standard", "separable"])
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_global_skip_adds_bicubic(conv, scale):
    """With the tail zeroed, the bicubic global skip makes the network exactly a bicubic upsampler."""
    model = SRResNet(scale=scale, conv=conv, norm="none", global_skip="bicubic", **TINY).eval()
    with torch.no_grad():
        for p in model.tail.parameters():
            p.zero_()
        x = torch.rand(1, 3, 7, 9)
        y = model(x)
    expected = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.allclose(y, expected, atol=1e-6)


def test_srresnet_separable_uses_separable_convs():
    model = SRResNet(conv="separable", **TINY)
    assert any(isinstance(m, SeparableConv2d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and m.groups == 1
                   for m in model.modules())
    standard = SRResNet(conv="standard", **TINY)
    assert not any(isinstance(m, SeparableConv2d) for m in standard.modules())


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("residual", [False, True])
def test_srcnn_shapes(scale, residual):
    model = SRCNN(scale=scale, num_features=8, mid_features=4, residual=residual).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, 12, 13))
    assert y.shape == (2, 3, 12 * scale, 13 * scale)
    assert torch.isfinite(y).all()


def test_srcnn_residual_zero_correction_is_bicubic():
    model = SRCNN(scale=4, num_features=8, mid_features=4, residual=True).eval()
    with torch.no_grad():
        for p in model.conv3.parameters():
            p.zero_()
        x = torch.rand(1, 3, 6, 8)
        assert torch.allclose(model(x), F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False))


@pytest.mark.parametrize("crop", [24, 40, 64, 96, 100, 128])
@pytest.mark.parametrize("conv", ["standard", "separable"])
def test_discriminator_any_crop_size(crop, conv):
    model = SRGANDiscriminator(num_features=4, fc_size=16, conv=conv).eval()
    with torch.no_grad():
        logits = model(torch.rand(3, 3, crop, crop))
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()


def test_discriminator_logits_are_unbounded():
    """The discriminator has no sigmoid: its outputs are logits for BCEWithLogits."""
    model = SRGANDiscriminator(num_features=4, fc_size=16).eval()
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    with torch.no_grad():
        model.classifier[-1].bias.fill_(5.0)
        assert (model(torch.rand(2, 3, 32, 32)) > 1).all()


def test_discriminator_non_square_and_rectangular_input():
    model = SRGANDiscriminator(num_features=4, fc_size=16).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 48, 80)).shape == (2,)


@pytest.mark.parametrize("mode", ["bicubic", "lanczos", "nearest"])
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_interpolation_shapes(mode, scale):
    model = Interpolation(mode=mode, scale=scale)
    x = torch.rand(2, 3, 5, 7)
    y = model(x)
    assert y.shape == (2, 3, 5 * scale, 7 * scale)
    assert count_parameters(model) == 0


def test_interpolation_nearest_replicates_pixels():
    x = torch.rand(1, 3, 4, 6)
    y = Interpolation(mode="nearest", scale=3)(x)
    assert torch.equal(y, x.repeat_interleave(3, dim=2).repeat_interleave(3, dim=3))


def test_interpolation_of_a_constant_is_constant():
    x = torch.full((1, 3, 5, 5), 0.3)
    for mode in ("bicubic", "lanczos"):
        assert torch.allclose(Interpolation(mode=mode, scale=4)(x), torch.full((1, 3, 20, 20), 0.3), atol=1e-6)


# --- parameter counts ---------------------------------------------------------------------------

def test_srresnet_paper_parameter_count():
    """SRResNet as in Ledig et al. (64 features, 16 blocks, BatchNorm, 4x): 1.55 M parameters."""
    n = count_parameters(SRResNet(scale=4))
    assert abs(n - 1.55e6) < 0.01e6, n


def test_separable_variant_parameter_count():
    """Swift-SRGAN's generator: about 0.2 M parameters, far fewer than the standard one."""
    sep = count_parameters(SRResNet(scale=4, conv="separable"))
    std = count_parameters(SRResNet(scale=4, conv="standard"))
    assert 0.19e6 < sep < 0.21e6, sep
    assert sep < std / 5
    assert count_parameters(build_preset("swift-srgan")) < count_parameters(build_preset("srgan"))


def test_separable_discriminator_has_fewer_parameters():
    small = dict(num_features=16, fc_size=64)  # same layout as the paper's, a quarter of the width
    assert count_parameters(SRGANDiscriminator(conv="separable", **small)) < count_parameters(SRGANDiscriminator(**small))


def test_discriminator_hidden_layer_follows_fc_size():
    """fc_size is honoured (Swift-SRGAN's discriminator hard-codes its Linear sizes)."""
    small = count_parameters(SRGANDiscriminator(num_features=4, fc_size=8))
    large = count_parameters(SRGANDiscriminator(num_features=4, fc_size=64))
    in_features = 4 * 8 * 6 * 6  # 8 convs: channels double every 2 -> 4 * 2**3; pooled to 6x6
    assert large - small == (64 - 8) * (in_features + 1) + (64 - 8)


# --- hparams and builders -----------------------------------------------------------------------

@pytest.mark.parametrize("arch,hparams", [
    ("srresnet", dict(num_features=8, num_blocks=2, scale=2, conv="separable", norm="none", global_skip="bicubic")),
    ("srcnn", dict(scale=3, num_features=8, mid_features=4, kernel_sizes=(5, 3, 3), residual=True)),
    ("srgan_discriminator", dict(num_features=4, num_convs=6, conv="separable", fc_size=16, pool_size=4)),
    ("interpolation", dict(mode="lanczos", scale=3)),
])
def test_hparams_rebuild_the_same_network(arch, hparams):
    """``model.hparams`` are the constructor arguments: building from them gives the same tensors."""
    model = build_model(arch, **hparams)
    rebuilt = build_model(arch, **model.hparams)
    assert type(rebuilt) is ARCHS[arch]
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in rebuilt.state_dict().items()}
    assert rebuilt.hparams == model.hparams


def test_presets_keeps_its_old_public_name():
    import sr_core

    assert PRESETS is NET_PRESETS and sr_core.PRESETS is sr_core.NET_PRESETS is NET_PRESETS


@pytest.mark.parametrize("name", list(NET_PRESETS))
def test_every_preset_builds_a_4x_model(name):
    model = build_preset(name, **({"num_blocks": 1} if NET_PRESETS[name][0] == "srresnet" else {})).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, 8, 6))
    assert y.shape == (1, 3, 32, 24)


# --- invalid arguments --------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: SRResNet(scale=3),
    lambda: SRResNet(scale=16),
    lambda: SRResNet(scale=1),
    lambda: SRResNet(conv="dilated"),
    lambda: SRResNet(norm="instance"),
    lambda: SRResNet(output="sigmoid"),
    lambda: SRResNet(global_skip="bilinear"),
    lambda: SRResNet(global_skip="bicubic", output="tanh"),
    lambda: SRCNN(scale=0),
    lambda: SRGANDiscriminator(conv="depthwise"),
    lambda: Interpolation(mode="bilinear"),
    lambda: Interpolation(scale=0),
    lambda: build_model("edsr"),
    lambda: build_preset("esrgan"),
], ids=["srresnet-scale3", "srresnet-scale16", "srresnet-scale1", "srresnet-conv", "srresnet-norm",
        "srresnet-output", "srresnet-skip", "srresnet-skip-tanh", "srcnn-scale", "disc-conv", "interp-mode",
        "interp-scale", "build-arch", "build-preset"])
def test_invalid_arguments_raise_value_error(build):
    with pytest.raises(ValueError):
        build()


def test_scale_error_lists_the_allowed_scales():
    with pytest.raises(ValueError, match=r"\(2, 4, 8\)"):
        SRResNet(scale=3)
