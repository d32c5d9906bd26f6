"""Other projects' released networks, re-implemented here to benchmark against them.

The weights live in ``../shared/peers/`` (see its README); they are loaded
only to measure, never shipped or fine-tuned. Each loader returns a module
with this library's contract: RGB (N, 3, H, W) in [0, 1] in, 4x RGB out.

* ``swift-srgan-official``: the official Swift-SRGAN release, mapped onto our
  own ``SRResNet(conv="separable", norm="batch", output="tanh")``.
* ``srgan-leftthomas``: a small SRGAN (5 residual blocks, single-slope PReLUs).
* ``fsrcnn`` and ``vdsr``: luma-only networks; Cb and Cr come from bicubic.
* ``imdn``: IMDN (Hui et al. 2019), every convolution at the input resolution.
* ``realesr-general-x4v3``: Real-ESRGAN's SRVGGNetCompact, trained for real photos (blind degradations), not
  for the bicubic protocol: compare it on degraded inputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sr_core import config
from sr_core.checkpoint import load_state_into, read_state_dict
from sr_core.nets import SRResNet
from sr_core.resize import resize

PEER_FILES = {
    "swift-srgan-official": "swift_srgan_x4.safetensors",
    "srgan-leftthomas": "srgan_leftthomas_x4.safetensors",
    "fsrcnn": "fsrcnn_x4.safetensors",
    "vdsr": "vdsr_x4.safetensors",
    "imdn": "imdn_x4.safetensors",
    "realesr-general-x4v3": "realesr_general_x4v3.safetensors",
}


def peers_dir() -> Path:
    return config.data_root().parent / "peers"


# --- Swift-SRGAN: official tensor names -> our SRResNet -----------------------------------------

_SWIFT_RULES = [
    (r"^initial\.cnn\.", "head.conv."),
    (r"^initial\.act\.", "head.act."),
    (r"^residual\.(\d+)\.block(\d)\.cnn\.", r"body.\1.block\2.conv."),
    (r"^residual\.(\d+)\.block(\d)\.bn\.", r"body.\1.block\2.norm."),
    (r"^residual\.(\d+)\.block1\.act\.", r"body.\1.block1.act."),
    (r"^convblock\.cnn\.", "body_tail.conv."),
    (r"^convblock\.bn\.", "body_tail.norm."),
    (r"^upsampler\.(\d+)\.", r"upsample.\1."),
    (r"^final_conv\.", "tail."),
]
# The release holds PReLU weights for activations its forward never applies.
_SWIFT_UNUSED = (r"^residual\.\d+\.block2\.act\.", r"^convblock\.act\.")


def convert_swift_srgan_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the official Swift-SRGAN tensors to ``SRResNet(conv='separable')`` names."""
    out = {}
    for key, value in state.items():
        if any(re.match(p, key) for p in _SWIFT_UNUSED):
            continue
        new = key
        for pattern, repl in _SWIFT_RULES:
            new, n = re.subn(pattern, repl, new)
            if n:
                break
        else:
            raise KeyError(f"unexpected tensor in the Swift-SRGAN release: {key}")
        out[new] = value
    return out


def import_swift_srgan(path: str | Path | None = None) -> SRResNet:
    """Load the official Swift-SRGAN 4x release into our generator class (eval mode)."""
    path = Path(path) if path else peers_dir() / PEER_FILES["swift-srgan-official"]
    model = SRResNet(conv="separable", norm="batch", output="tanh", scale=4)
    load_state_into(model, convert_swift_srgan_state(read_state_dict(path)), source=str(path))
    return model.eval()


# --- leftthomas/SRGAN ---------------------------------------------------------------------------

class _LTResidual(nn.Module):
    def __init__(self, c: int = 64):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.prelu = nn.PReLU()
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class _LTUpsample(nn.Module):
    def __init__(self, c: int = 64):
        super().__init__()
        self.conv, self.shuffle, self.prelu = nn.Conv2d(c, c * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()

    def forward(self, x):
        return self.prelu(self.shuffle(self.conv(x)))


class LeftThomasSRGAN(nn.Module):
    """leftthomas/SRGAN generator: 5 residual blocks, one PReLU slope per layer, tanh output."""

    def __init__(self):
        super().__init__()
        self.scale = 4
        self.hparams = {"scale": 4, "num_features": 64}
        self.block1 = nn.Sequential(nn.Conv2d(3, 64, 9, padding=4), nn.PReLU())
        for i in range(2, 7):
            setattr(self, f"block{i}", _LTResidual())
        self.block7 = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.PReLU())
        self.block8 = nn.Sequential(_LTUpsample(), _LTUpsample(), nn.Conv2d(64, 3, 9, padding=4))

    def forward(self, x):
        b1 = self.block1(x)
        b = b1
        for i in range(2, 7):
            b = getattr(self, f"block{i}")(b)
        return (torch.tanh(self.block8(b1 + self.block7(b))) + 1) / 2


# --- luma-only peers ----------------------------------------------------------------------------

def _rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = (128 - 37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = (128 + 112.0 * r - 93.786 * g - 18.214 * b) / 255
    return torch.cat([y, cb, cr], 1)


def _ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    y, cb, cr = x[:, 0:1] * 255 - 16, x[:, 1:2] * 255 - 128, x[:, 2:3] * 255 - 128
    r = 0.00456621 * y + 0.00625893 * cr
    g = 0.00456621 * y - 0.00153632 * cb - 0.00318811 * cr
    b = 0.00456621 * y + 0.00791071 * cb
    return torch.cat([r, g, b], 1)


class _LumaPeer(nn.Module):
    """Runs a Y-channel network; Cb/Cr are upscaled by (Pillow-style) bicubic."""

    upsample_input = False

    def __init__(self):
        super().__init__()
        self.scale = 4
        self.hparams = {"scale": 4, "num_features": 64}

    def luma(self, y_lr: torch.Tensor, y_bicubic: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x):
        h, w = x.shape[-2:]
        ycc = _rgb_to_ycbcr(x)
        up = resize(ycc, (h * self.scale, w * self.scale), "bicubic")
        y = self.luma(ycc[:, :1], up[:, :1])
        return _ycbcr_to_rgb(torch.cat([y, up[:, 1:]], 1))


class FSRCNN(_LumaPeer):
    """FSRCNN (d=56, s=12, m=4) on the LR luma, transposed-conv upsampling."""

    def __init__(self):
        super().__init__()
        self.hparams["num_features"] = 56
        self.first_part = nn.Sequential(nn.Conv2d(1, 56, 5, padding=2), nn.PReLU(56))
        mid = [nn.Conv2d(56, 12, 1), nn.PReLU(12)]
        for _ in range(4):
            mid += [nn.Conv2d(12, 12, 3, padding=1), nn.PReLU(12)]
        mid += [nn.Conv2d(12, 56, 1), nn.PReLU(56)]
        self.mid_part = nn.Sequential(*mid)
        self.last_part = nn.ConvTranspose2d(56, 1, 9, stride=4, padding=4, output_padding=3)

    def luma(self, y_lr, y_bicubic):
        return self.last_part(self.mid_part(self.first_part(y_lr)))


class _VDSRConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)

    def forward(self, x):
        return F.relu(self.conv(x))


class VDSR(_LumaPeer):
    """VDSR: 20 bias-free 3x3 convs on the bicubic-upsampled luma, global residual."""

    def __init__(self):
        super().__init__()
        self.input = nn.Conv2d(1, 64, 3, padding=1, bias=False)
        self.residual_layer = nn.Sequential(*[_VDSRConv() for _ in range(18)])
        self.output = nn.Conv2d(64, 1, 3, padding=1, bias=False)

    def luma(self, y_lr, y_bicubic):
        return y_bicubic + self.output(self.residual_layer(F.relu(self.input(y_bicubic))))


# --- IMDN (Zheng222/IMDN) ----------------------------------------------------------------------------

class _CCA(nn.Module):
    """Contrast-aware channel attention: per-channel standard deviation + mean, 1x1 squeeze/excite, sigmoid."""

    def __init__(self, c: int = 64, reduction: int = 16):
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2d(c, c // reduction, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(c // reduction, c, 1), nn.Sigmoid())

    def forward(self, x):
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        return x * self.conv_du(std + mean)


class _IMDB(nn.Module):
    def __init__(self, c: int = 64, distilled: int = 16):
        super().__init__()
        self.d, self.r = distilled, c - distilled
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(self.r, c, 3, padding=1)
        self.c3 = nn.Conv2d(self.r, c, 3, padding=1)
        self.c4 = nn.Conv2d(self.r, distilled, 3, padding=1)
        self.c5 = nn.Conv2d(c, c, 1)
        self.cca = _CCA(c)
        self.act = nn.LeakyReLU(0.05)

    def forward(self, x):
        d1, r1 = torch.split(self.act(self.c1(x)), (self.d, self.r), dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), (self.d, self.r), dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), (self.d, self.r), dim=1)
        return self.c5(self.cca(torch.cat([d1, d2, d3, self.c4(r3)], dim=1))) + x


class IMDN(nn.Module):
    """IMDN 4x: 3x3 head, six information multi-distillation blocks, 1x1 fusion, 3x3 conv + pixel shuffle 4."""

    def __init__(self, c: int = 64, blocks: int = 6):
        super().__init__()
        self.scale = 4
        self.hparams = {"scale": 4, "num_features": c}
        self.fea_conv = nn.Conv2d(3, c, 3, padding=1)
        for i in range(1, blocks + 1):
            setattr(self, f"IMDB{i}", _IMDB(c))
        self.blocks = blocks
        self.c = nn.Sequential(nn.Conv2d(c * blocks, c, 1), nn.LeakyReLU(0.05))
        self.LR_conv = nn.Conv2d(c, c, 3, padding=1)
        self.upsampler = nn.Sequential(nn.Conv2d(c, 3 * 16, 3, padding=1), nn.PixelShuffle(4))

    def forward(self, x):
        fea = self.fea_conv(x)
        outs, b = [], fea
        for i in range(1, self.blocks + 1):
            b = getattr(self, f"IMDB{i}")(b)
            outs.append(b)
        return self.upsampler(self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea)


# --- Real-ESRGAN's SRVGGNetCompact --------------------------------------------------------------------

class SRVGGNetCompact(nn.Module):
    """``body``: conv 3->64, PReLU, ``num_conv`` x (conv 64->64, PReLU), conv 64->3*16; pixel shuffle 4; plus the
    nearest-upsampled input."""

    def __init__(self, num_feat: int = 64, num_conv: int = 32, scale: int = 4):
        super().__init__()
        self.scale = scale
        self.hparams = {"scale": scale, "num_features": num_feat}
        layers = [nn.Conv2d(3, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x):
        return self.upsampler(self.body(x)) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def load_peer(name: str, path: str | Path | None = None) -> nn.Module:
    """One of ``PEER_FILES``' names, loaded from ``../shared/peers`` (or ``path``), in eval mode."""
    if name not in PEER_FILES:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEER_FILES)}")
    if name == "swift-srgan-official":
        return import_swift_srgan(path)
    path = Path(path) if path else peers_dir() / PEER_FILES[name]
    model = {"srgan-leftthomas": LeftThomasSRGAN, "fsrcnn": FSRCNN, "vdsr": VDSR, "imdn": IMDN,
             "realesr-general-x4v3": SRVGGNetCompact}[name]()
    load_state_into(model, read_state_dict(path), source=str(path))
    return model.eval()


def available_peers() -> list[str]:
    return [n for n, f in PEER_FILES.items() if (peers_dir() / f).is_file()]
