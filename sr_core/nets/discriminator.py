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
