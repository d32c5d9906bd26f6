"""``fast``: the project's CPU-first network. Every convolution runs at the input resolution.

Design (after SPAN, Wan et al., NTIRE 2024 efficient-SR winner, and ECBSR / RepVGG's re-parameterisation):

* a 3x3 head, ``num_blocks`` blocks of three 3x3 convolutions, a 1x1 fusion of the head's, the first block's and
  the last block's features, and a 3x3 tail to ``3 * scale**2`` channels that one pixel shuffle turns into the
  output; the input repeated ``scale**2`` times is added before the shuffle (the nearest-neighbour upsampled
  input: a skip that costs one addition, as in ABPN and SRVGGNetCompact);
* each 3x3 convolution is a :class:`RepConv3x3`: while training it has four linear branches (3x3, 1x1, identity
  and a 1x1-expand / 3x3 / 1x1-squeeze path, SPAN's Conv3XC), which :meth:`FastSR.reparameterize` merges into one
  plain ``nn.Conv2d`` for inference. The training forward already runs one convolution with the merged kernel
  (computed from the branch weights at each step: the branches are a re-parameterisation, so this is the same
  function as summing the branch outputs, to float rounding, at the cost of one convolution);
* SPAN's parameter-free attention at the end of each block: ``(out + x) * (sigmoid(out) - 0.5)``, switchable
  with ``attention=False`` (plain residual) so its cost and worth can be measured.

RGB float [0, 1] NCHW in, (N, 3, scale*H, scale*W) out, not clamped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SCALES = (2, 3, 4)


class RepConv3x3(nn.Module):
    """A 3x3 convolution trained as the sum of linear branches and merged into one for inference.

    Branches: 3x3 (with bias), 1x1 (with bias), identity (only when ``in == out``) and, with ``expand > 0``,
    1x1 to ``expand * in`` channels (no bias, so zero padding commutes with it and the merge is exact at the
    borders) -> 3x3 to ``expand * out`` -> 1x1 to ``out`` (both with bias).
    """

    def __init__(self, in_channels: int, out_channels: int, expand: int = 2, identity: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv3 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1)
        self.identity = identity and in_channels == out_channels
        self.expand = expand
        if expand:
            self.exp_a = nn.Conv2d(in_channels, in_channels * expand, 1, bias=False)
            self.exp_b = nn.Conv2d(in_channels * expand, out_channels * expand, 3, padding=1)
            self.exp_c = nn.Conv2d(out_channels * expand, out_channels, 1)

    def merged(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel and bias equal to the sum of the branches."""
        weight = self.conv3.weight + F.pad(self.conv1.weight, (1, 1, 1, 1))
        bias = self.conv3.bias + self.conv1.bias
        if self.identity:
            eye = torch.eye(self.out_channels, dtype=weight.dtype, device=weight.device)
            weight = weight + F.pad(eye[:, :, None, None], (1, 1, 1, 1))
        if self.expand:
            a = self.exp_a.weight[:, :, 0, 0]                 # (E, I)
            c = self.exp_c.weight[:, :, 0, 0]                 # (O, F)
            bc = torch.einsum("fekl,ei->fikl", self.exp_b.weight, a)
            weight = weight + torch.einsum("of,fikl->oikl", c, bc)
            bias = bias + c @ self.exp_b.bias + self.exp_c.bias
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.merged()
        return F.conv2d(x, weight, bias, padding=1)

    def forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        """The branches run one by one and summed: what :meth:`forward` equals (for tests)."""
        out = self.conv3(x) + self.conv1(x)
        if self.identity:
            out = out + x
        if self.expand:
            out = out + self.exp_c(self.exp_b(self.exp_a(x)))
        return out

    def to_conv(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` computing the same function."""
        weight, bias = self.merged()
        conv = nn.Conv2d(self.in_channels, self.out_channels, 3, padding=1).to(weight.device, weight.dtype)
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)
        return conv


def _combine(fresh: torch.Tensor, op: str, other: torch.Tensor) -> torch.Tensor:
    """``fresh + other`` (``op="add"``) or ``fresh * other`` (``"mul"``), written into ``fresh`` (a tensor
    nothing else holds) when autograd is off and the result keeps ``fresh``'s dtype (under autocast a float32
    operand must not be rounded to bfloat16). Same values either way; in place, a 256 px tile's forward pass
    peaks about 30 % lower and runs 1.03x faster (2-core EPYC; ``reports/fast_inplace/``)."""
    if not torch.is_grad_enabled() and torch.promote_types(fresh.dtype, other.dtype) == fresh.dtype:
        return getattr(fresh, op + "_")(other)
    return getattr(torch, op)(fresh, other)


class FastBlock(nn.Module):
    """Three 3x3 convolutions (SiLU between) and SPAN's parameter-free attention (or a plain residual).

    Without autograd (inference) the element-wise steps overwrite the convolutions' fresh outputs instead of
    allocating a tensor each (:func:`_combine`); ``x`` is never modified."""

    def __init__(self, channels: int, expand: int = 2, attention: bool = True):
        super().__init__()
        self.c1 = RepConv3x3(channels, channels, expand)
        self.c2 = RepConv3x3(channels, channels, expand)
        self.c3 = RepConv3x3(channels, channels, expand)
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inplace = not torch.is_grad_enabled()
        out = F.silu(self.c2(F.silu(self.c1(x), inplace=inplace)), inplace=inplace)
        out = self.c3(out)
        if not self.attention:
            return _combine(out, "add", x)
        att = torch.sigmoid(out)  # before out is overwritten
        att = att.sub_(0.5) if inplace else att - 0.5
        return _combine(_combine(out, "add", x), "mul", att)


class FastSR(nn.Module):
    """The ``fast`` network (see the module docstring).

    Args:
        in_channels: input channels (3, RGB).
        num_features: feature channels (measured choice: see ``benchmarks/fast_width.py``).
        num_blocks: blocks of three 3x3 convolutions.
        scale: 2, 3 or 4.
        expand: channel gain of the expand/squeeze training branch (0: no such branch).
        attention: SPAN's parameter-free attention at the end of each block (its cost and worth: the same benchmark).
        skip: ``nearest`` (input repeated before the pixel shuffle) or ``none``.
    """

    def __init__(self, in_channels: int = 3, num_features: int = 48, num_blocks: int = 6, scale: int = 4,
                 expand: int = 2, attention: bool = True, skip: str = "nearest"):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if skip not in ("nearest", "none"):
            raise ValueError(f"skip must be 'nearest' or 'none', got {skip!r}")
        self.hparams = dict(in_channels=in_channels, num_features=num_features, num_blocks=num_blocks, scale=scale,
                            expand=expand, attention=attention, skip=skip)
        self.scale, self.skip, self.in_channels = scale, skip, in_channels
        self.head = RepConv3x3(in_channels, num_features, expand)
        self.blocks = nn.ModuleList(FastBlock(num_features, expand, attention) for _ in range(num_blocks))
        self.fuse = nn.Conv2d(num_features * 3, num_features, 1)
        self.body_tail = RepConv3x3(num_features, num_features, expand)
        # no identity branch in the tail even where 3 * scale**2 == num_features: it maps features to pixels
        self.tail = RepConv3x3(num_features, in_channels * scale * scale, expand, identity=False)
        self.shuffle = nn.PixelShuffle(scale)
        with torch.no_grad():  # start near the skip (the nearest-upsampled input), not far from it
            for p in self.tail.parameters():
                p.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> (N, 3, scale*H, scale*W)."""
        head = self.head(x)
        out = first = head
        for i, block in enumerate(self.blocks):
            out = block(out)
            if i == 0:
                first = out
        body = _combine(self.body_tail(self.fuse(torch.cat([head, first, out], dim=1))), "add", head)
        res = self.tail(body)                                          # (N, 3*s*s, H, W)
        if self.skip == "nearest":
            # channel c*s*s + k of the shuffle's input lands on colour c: repeat each colour s*s times
            res = _combine(res, "add", x.repeat_interleave(self.scale * self.scale, dim=1))
        return self.shuffle(res)

    @torch.no_grad()
    def reparameterize(self) -> "FastSR":
        """Replace every :class:`RepConv3x3` by its merged ``nn.Conv2d`` (in place; returns ``self``).

        The merged network computes the same function to float rounding. Its ``state_dict`` has other keys,
        so weights are saved from the training form (``save_pretrained`` does that) and merged after loading.
        """
        for module in list(self.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, RepConv3x3):
                    setattr(module, name, child.to_conv())
        return self

    @property
    def is_reparameterized(self) -> bool:
        return not any(isinstance(m, RepConv3x3) for m in self.modules())
