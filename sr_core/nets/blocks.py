"""Small building blocks shared by the SR networks.

The one switch that turns SRGAN into Swift-SRGAN lives here: :func:`make_conv`
builds either a standard convolution or a depthwise-separable one (depthwise
k x k with ``groups=in_channels``, then pointwise 1x1), and every network takes
``conv="standard" | "separable"`` and passes it down.
"""

from __future__ import annotations

import torch
from torch import nn

CONV_TYPES = ("standard", "separable")
NORM_TYPES = ("batch", "none")


class SeparableConv2d(nn.Module):
    """Depthwise k x k convolution followed by a pointwise 1x1 convolution.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: size of the depthwise kernel.
        stride: stride of the depthwise convolution.
        bias: whether both convolutions carry a bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, kernel_size, stride=stride, padding=kernel_size // 2,
            groups=in_channels, bias=bias,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def make_conv(conv: str, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              bias: bool = True) -> nn.Module:
    """A 'same'-padded convolution of the requested type (``standard`` or ``separable``)."""
    if conv == "standard":
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=bias)
    if conv == "separable":
        return SeparableConv2d(in_channels, out_channels, kernel_size, stride=stride, bias=bias)
    raise ValueError(f"conv must be one of {CONV_TYPES}, got {conv!r}")


def make_norm(norm: str, channels: int) -> nn.Module:
    """BatchNorm2d for ``norm="batch"``, identity for ``norm="none"``."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORM_TYPES}, got {norm!r}")


class ConvBlock(nn.Module):
    """Convolution, optional normalisation, optional activation (in that order)."""

    def __init__(self, conv: str, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 norm: str = "none", act: nn.Module | None = None):
        super().__init__()
        # A convolution followed by BatchNorm does not need its own bias.
        self.conv = make_conv(conv, in_channels, out_channels, kernel_size, stride=stride, bias=norm == "none")
        self.norm = make_norm(norm, out_channels)
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class ResidualBlock(nn.Module):
    """SRResNet residual block: conv-norm-PReLU-conv-norm, plus the input."""

    def __init__(self, num_features: int, conv: str = "standard", norm: str = "batch"):
        super().__init__()
        self.block1 = ConvBlock(conv, num_features, num_features, 3, norm=norm, act=nn.PReLU(num_features))
        self.block2 = ConvBlock(conv, num_features, num_features, 3, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block2(self.block1(x))


class SubPixelBlock(nn.Module):
    """Convolution to 4x channels, pixel shuffle by 2, PReLU: doubles height and width."""

    def __init__(self, num_features: int, conv: str = "standard"):
        super().__init__()
        self.conv = make_conv(conv, num_features, num_features * 4, 3)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))  # (N, C*4, H, W) -> (N, C, 2H, 2W)
