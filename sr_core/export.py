"""ONNX export of the networks, with dynamic batch, height and width.

    python -m sr_core export-onnx --model srresnet -o srresnet.onnx

The exported graph is the inference copy of :mod:`sr_core.optimize`
(BatchNorm folded, phase-domain sub-pixel tail) unless ``optimize=False``;
both compute the same function. Input ``lr``: float32 (N, 3, H, W) RGB in
[0, 1]; output ``sr``: (N, 3, s*H, s*W), not clamped (clamp to [0, 1] as
``upscale_tensor`` does). SRResNet's bicubic global skip (``F.interpolate``,
bicubic, ``align_corners=False``) becomes an ONNX ``Resize`` (cubic, a = -0.75,
``pytorch_half_pixel``), which ONNX Runtime computes like PyTorch.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from .optimize import prepare_for_inference

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17


def export_onnx(model: nn.Module, path: str | Path, *, opset: int = DEFAULT_OPSET, optimize: bool = True,
                sample_size: int = 32) -> Path:
    """Write ``model`` (eval mode, CPU) to an ONNX file with dynamic N, H and W; returns the path.

    Args:
        model: a network of this library (or a peer) taking (N, 3, H, W) in [0, 1].
        path: output file.
        opset: ONNX opset version.
        optimize: export the :func:`~sr_core.optimize.prepare_for_inference` copy (same outputs, fewer ops).
        sample_size: side of the example input used for tracing (any size works afterwards).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().to("cpu")
    net = prepare_for_inference(model, channels_last=False) if optimize else model
    channels = getattr(model, "hparams", {}).get("in_channels", 3)
    example = torch.rand(1, channels, sample_size, sample_size)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notices
        torch.onnx.export(net, (example,), str(path), input_names=["lr"], output_names=["sr"],
                          dynamic_axes={"lr": axes, "sr": axes}, opset_version=opset, do_constant_folding=True,
                          dynamo=False)
    log.info("wrote %s", path)
    return path


__all__ = ["export_onnx", "DEFAULT_OPSET"]
