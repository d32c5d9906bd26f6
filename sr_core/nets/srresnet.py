"""SRResNet, the SRGAN generator (Ledig et al. 2017), and its Swift-SRGAN variant."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBlock, ResidualBlock, SubPixelBlock, make_conv

SCALES = (2, 4, 8)
OUTPUTS = ("linear", "tanh")
GLOBAL_SKIPS = ("none", "bicubic")


class SRResNet(nn.Module):
    """SRResNet / SRGAN generator.

    The paper's layout: 9x9 head conv + PReLU, ``num_blocks`` residual blocks
    (conv-BN-PReLU-conv-BN + skip), conv-BN plus a long skip from the head,
    log2(scale) sub-pixel stages (conv to 4x channels, pixel shuffle 2, PReLU)
    and a 9x9 tail conv. ``conv="separable"`` gives Swift-SRGAN's generator.

    Args:
        in_channels: channels of the input image (3 for RGB).
        out_channels: channels of the output image.
        num_features: feature channels in the trunk (paper: 64).
        num_blocks: residual blocks (paper: 16).
        scale: upscaling factor, one of 2, 4, 8.
        conv: ``standard`` (SRGAN) or ``separable`` (Swift-SRGAN).
        norm: ``batch`` (the paper's BatchNorm) or ``none`` (as in ESRGAN /
            BasicSR's MSRResNet, which trains faster and more stably).
        output: ``linear`` (the network predicts [0, 1] values directly) or
            ``tanh`` (output is ``(tanh(x) + 1) / 2``, as in the official
            Swift-SRGAN release).
        global_skip: ``none`` (paper) or ``bicubic``: add the bicubically
            upsampled input, so the network learns only the residual (as
            MSRResNet does with bilinear upsampling).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_features: int = 64, num_blocks: int = 16,
                 scale: int = 4, conv: str = "standard", norm: str = "batch", output: str = "linear",
                 global_skip: str = "none"):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if global_skip not in GLOBAL_SKIPS:
            raise ValueError(f"global_skip must be one of {GLOBAL_SKIPS}, got {global_skip!r}")
        if global_skip != "none" and output != "linear":
            raise ValueError("global_skip needs output='linear'")
        self.hparams = dict(in_channels=in_channels, out_channels=out_channels, num_features=num_features,
                            num_blocks=num_blocks, scale=scale, conv=conv, norm=norm, output=output,
                            global_skip=global_skip)
        self.scale, self.output, self.global_skip = scale, output, global_skip

        self.head = ConvBlock(conv, in_channels, num_features, 9, act=nn.PReLU(num_features))
        self.body = nn.Sequential(*[ResidualBlock(num_features, conv, norm) for _ in range(num_blocks)])
        self.body_tail = ConvBlock(conv, num_features, num_features, 3, norm=norm)
        self.upsample = nn.Sequential(*[SubPixelBlock(num_features, conv) for _ in range(int(math.log2(scale)))])
        self.tail = make_conv(conv, num_features, out_channels, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, C, scale*H, scale*W), roughly in [0, 1] (not clamped)."""
        head = self.head(x)                              # (N, F, H, W)
        trunk = self.body_tail(self.body(head)) + head   # (N, F, H, W), long skip
        out = self.tail(self.upsample(trunk))            # (N, C, sH, sW)
        if self.output == "tanh":
            return (torch.tanh(out) + 1) / 2
        if self.global_skip == "bicubic":
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out
