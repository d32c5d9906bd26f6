"""SRCNN (Dong et al. 2014/2016): three convolutions on the bicubic-upsampled image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRCNN(nn.Module):
    """SRCNN 9-5-5 with 64 and 32 filters.

    Unlike the paper (valid convolutions on the Y channel), this version pads
    to keep the size and works on RGB, so it fits the project's RGB [0, 1]
    contract and its tiled inference.

    Args:
        in_channels: image channels.
        scale: upscaling factor of the internal bicubic upsampling.
        num_features: filters of the first layer (paper: 64).
        mid_features: filters of the second layer (paper: 32).
        kernel_sizes: the three kernel sizes (paper: 9-5-5).
        residual: if true, the network predicts a correction that is added
            to the bicubic image (VDSR's residual learning; converges much
            faster). The paper's SRCNN is ``residual=False``.
    """

    def __init__(self, in_channels: int = 3, scale: int = 4, num_features: int = 64, mid_features: int = 32,
                 kernel_sizes: tuple[int, int, int] = (9, 5, 5), residual: bool = False):
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        k1, k2, k3 = kernel_sizes
        self.hparams = dict(in_channels=in_channels, scale=scale, num_features=num_features,
                            mid_features=mid_features, kernel_sizes=list(kernel_sizes), residual=residual)
        self.scale, self.residual = scale, residual
        self.conv1 = nn.Conv2d(in_channels, num_features, k1, padding=k1 // 2)
        self.conv2 = nn.Conv2d(num_features, mid_features, k2, padding=k2 // 2)
        self.conv3 = nn.Conv2d(mid_features, in_channels, k3, padding=k3 // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, C, scale*H, scale*W)."""
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)  # (N, C, sH, sW)
        out = self.conv3(F.relu(self.conv2(F.relu(self.conv1(up)))))
        return up + out if self.residual else out
