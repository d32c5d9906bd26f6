"""``DetailBlend``: two networks of one task run on the same input, their outputs blended pixel by pixel.

The detail control of ``real`` (:mod:`sr_core.detail`) is ``(1 - detail) * real_psnr(x) + detail * real(x)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..detail import blend_config


class DetailBlend(nn.Module):
    """``(1 - detail) * smooth(x) + detail * textured(x)``: both networks run, then their outputs are mixed.

    Args:
        smooth: the pixel-loss network (``real-psnr``), what ``detail=0`` gives.
        textured: its GAN fine-tune (``real``), what ``detail=1`` gives; its ``hparams`` and ``config`` (with
            ``detail`` and ``detail_pair`` added) describe the blend.
        detail: the share of ``textured``'s output, in [0, 1].

    Costs two forward passes. Unlike an average of the two networks' weights (ESRGAN's network interpolation,
    :func:`sr_core.detail.interpolate`), the result lies between the two outputs for every detail.
    """

    def __init__(self, smooth: nn.Module, textured: nn.Module, detail: float):
        super().__init__()
        if not 0.0 <= float(detail) <= 1.0:
            raise ValueError(f"detail must lie between 0 and 1, got {detail}")
        self.smooth, self.textured, self.detail = smooth, textured, float(detail)
        self.hparams = dict(getattr(textured, "hparams", {}))
        self.scale = int(getattr(textured, "scale", None) or self.hparams["scale"])
        self.config = blend_config(dict(getattr(textured, "config", {}) or {}),
                                   getattr(smooth, "config", {}).get("name", "smooth"), self.detail)
        self.train(textured.training)  # loaded networks are in eval mode, and so is their blend

    def reparameterize(self) -> None:
        """Merge both networks' training-time branches (``FastSR.reparameterize``), as for one network."""
        for net in (self.smooth, self.textured):
            if hasattr(net, "reparameterize"):
                net.reparameterize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        smooth = self.smooth(x)
        return torch.lerp(smooth, self.textured(x).to(smooth.dtype), self.detail)
