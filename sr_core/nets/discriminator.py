"""The SRGAN discriminator (Ledig et al. 2017), standard or depthwise-separable."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock


class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator: eight 3x3 conv blocks, dense 1024, one logit.

    Channels go 64-64-128-128-256-256-512-512 with strides 1-2-1-2-...;
    BatchNorm on every block but the first; LeakyReLU(0.2). An adaptive average
    pool to ``pool_size`` before the dense layers lets it take any crop size.

    Args:
        in_channels: channels of the image.
        num_features: channels of the first block (paper: 64).
        num_convs: number of conv blocks (paper: 8; channels double every 2).
        conv: ``standard`` (SRGAN) or ``separable`` (Swift-SRGAN).
        fc_size: width of the hidden dense layer (paper: 1024).
        pool_size: spatial size after adaptive pooling (6 gives 96x96 crops
            their natural 6x6 map).
    """

    def __init__(self, in_channels: int = 3, num_features: int = 64, num_convs: int = 8, conv: str = "standard",
                 fc_size: int = 1024, pool_size: int = 6):
        super().__init__()
        self.hparams = dict(in_channels=in_channels, num_features=num_features, num_convs=num_convs, conv=conv,
                            fc_size=fc_size, pool_size=pool_size)
        blocks, channels = [], in_channels
        for i in range(num_convs):
            out = num_features * 2 ** (i // 2)
            blocks.append(ConvBlock(conv, channels, out, 3, stride=1 + i % 2, norm="none" if i == 0 else "batch",
                                    act=nn.LeakyReLU(0.2)))
            channels = out
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * pool_size * pool_size, fc_size),
            nn.LeakyReLU(0.2),
            nn.Linear(fc_size, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N,) logits (real > 0)."""
        features = self.pool(self.features(x))  # (N, 512, pool, pool)
        return self.classifier(features).squeeze(1)


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral normalisation (Wang et al. 2021, section 3.3).

    A 3x3 input convolution, three 4x4 stride-2 convolutions down (``f`` -> 2f -> 4f -> 8f channels), three
    bilinear x2 upsamplings each followed by a 3x3 convolution and an addition of the same-resolution encoder
    features (the U-Net skips), two more 3x3 convolutions and a 3x3 to one channel. Every convolution but the
    first and the last is spectrally normalised (``torch.nn.utils.parametrizations.spectral_norm``), with
    LeakyReLU(0.2). The output is a logit per pixel (real > 0): the discriminator judges every region, which
    is what lets it reject local artefacts (Real-ESRGAN's argument against a single-logit one).

    Args:
        in_channels: channels of the image.
        num_features: channels of the first convolution (Real-ESRGAN: 64).
        skip: the U-Net skip connections (Real-ESRGAN: on).

    Input sides must be multiples of 8.
    """

    def __init__(self, in_channels: int = 3, num_features: int = 64, skip: bool = True):
        super().__init__()
        from torch.nn.utils.parametrizations import spectral_norm

        self.hparams = dict(in_channels=in_channels, num_features=num_features, skip=skip)
        self.skip = skip
        f = num_features
        self.conv0 = nn.Conv2d(in_channels, f, 3, padding=1)
        self.down = nn.ModuleList([spectral_norm(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False)) for c in (f, 2 * f, 4 * f)])
        self.up = nn.ModuleList([spectral_norm(nn.Conv2d(2 * c, c, 3, padding=1, bias=False))
                                 for c in (4 * f, 2 * f, f)])
        self.extra = nn.ModuleList([spectral_norm(nn.Conv2d(f, f, 3, padding=1, bias=False)) for _ in range(2)])
        self.out = nn.Conv2d(f, 1, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, 1, H, W) logits (real > 0)."""
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"UNetDiscriminatorSN needs sides that are multiples of 8, got {tuple(x.shape[-2:])}")
        feats = [self.act(self.conv0(x))]
        for conv in self.down:
            feats.append(self.act(conv(feats[-1])))
        h = feats.pop()
        for conv in self.up:
            h = nn.functional.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = self.act(conv(h))
            skip = feats.pop()
            if self.skip:
                h = h + skip
        for conv in self.extra:
            h = self.act(conv(h))
        return self.out(h)
