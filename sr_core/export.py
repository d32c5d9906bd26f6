"""ONNX export of the networks, with dynamic batch, height and width.

    python -m sr_core export-onnx --model srresnet -o srresnet.onnx
    python -m sr_core.export --all      # every shipped model's weights/<name>/model.onnx (the light install's)

The exported graph is the inference copy of :mod:`sr_core.optimize`
(BatchNorm folded, phase-domain sub-pixel tail) unless ``optimize=False``;
both compute the same function. Input ``lr``: float32 (N, 3, H, W) RGB in
[0, 1]; output ``sr``: (N, 3, s*H, s*W), not clamped (clamp to [0, 1] as
``upscale_tensor`` does). SRResNet's bicubic global skip (``F.interpolate``,
bicubic, ``align_corners=False``) becomes an ONNX ``Resize`` (cubic, a = -0.75,
``pytorch_half_pixel``), which ONNX Runtime computes like PyTorch.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from .optimize import prepare_for_inference

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
GRAPH_FILE = "model.onnx"   # beside model.safetensors in weights/<name>/: the graph the light install runs
MIN_HALF_SIZE = 256         # initializers with at least this many values are stored as float16 (the weights)


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


def half_weights(path: str | Path) -> Path:
    """Store the float32 weights of an ONNX file as float16, each followed by a Cast back to float32.

    The graph still computes in float32 (ONNX Runtime folds the Casts when it loads the file), but the
    file is half the size. The shipped safetensors are float16 already, so only the merged
    (re-parameterised, BatchNorm-folded) kernels are rounded once more.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= MIN_HALF_SIZE:
            name = init.name
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{name}_f16"))
            casts.append(helper.make_node("Cast", [f"{name}_f16"], [name], to=TensorProto.FLOAT, name=f"{name}_cast"))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def shipped_models() -> list[str]:
    """The model names with shipped weights (``weights/<name>/model.safetensors``), in ``PRESETS`` order."""
    from . import config
    from .checkpoint import WEIGHTS_FILE
    from .presets import CLASSICAL, PRESETS

    return [n for n in PRESETS if n not in CLASSICAL and (config.weights_dir() / n / WEIGHTS_FILE).is_file()]


def export_shipped(name: str, out: str | Path | None = None, *, float16: bool = True) -> Path:
    """Export shipped model ``name`` to ``out`` (default: ``weights/<name>/model.onnx``) from its safetensors.

    The file records in its metadata the model's name, scale, parameter count (of the network as trained)
    and the SHA-256 of the safetensors it was made from, so a stale graph can be found without torch.
    """
    import onnx

    from . import __version__, config
    from .checkpoint import WEIGHTS_FILE, load_model
    from .nets import count_parameters

    source = config.weights_dir() / name / WEIGHTS_FILE
    model = load_model(name)
    path = Path(out) if out is not None else source.with_name(GRAPH_FILE)
    export_onnx(model, path)
    if float16:
        half_weights(path)
    proto = onnx.load(str(path))
    meta = {"name": name, "scale": str(model.config["scale"]), "parameters": str(count_parameters(model)),
            "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(), "sr_core": __version__,
            "weights": "float16" if float16 else "float32"}
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "sr_core.export"
    onnx.save(proto, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sr_core.export",
                                     description="write weights/<name>/model.onnx from weights/<name>/model.safetensors")
    parser.add_argument("names", nargs="*", help="shipped model names (default with --all: every one)")
    parser.add_argument("--all", action="store_true", help="every shipped SR model")
    parser.add_argument("--float32", action="store_true", help="keep float32 weights (default: float16 weights)")
    args = parser.parse_args(argv)
    names = shipped_models() if args.all else args.names
    if not names:
        parser.error("name a model or pass --all")
    for name in names:
        path = export_shipped(name, float16=not args.float32)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


__all__ = ["export_onnx", "export_shipped", "half_weights", "shipped_models", "DEFAULT_OPSET", "GRAPH_FILE"]


if __name__ == "__main__":
    sys.exit(main())
