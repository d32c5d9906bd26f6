"""sr_core: super-resolution networks, losses, metrics, data, tiled inference and weights I/O.

Importing this package does no I/O, starts no GPU, downloads nothing and imports no torch: the names that
need torch (``load_model``, ``upscale_tensor``, ``psnr``, ...) are imported when first used. Every public
function takes and returns RGB float [0, 1] tensors in NCHW order, or ``PIL.Image``s. Without torch (the
light install, ONNX Runtime only) ``upscale``, ``load_onnx``, ``open_image`` and the ``sr-core upscale``
command work; the rest says to ``pip install "sr-core[torch]"``.
"""

import importlib

__version__ = "0.1.0"

from .backends import OnnxModel, load_onnx, upscale  # noqa: E402
from .io import ImageLoadError, open_image, to_image, to_tensor  # noqa: E402

# name -> the submodule it comes from, imported on first use (each needs torch)
_LAZY = {**dict.fromkeys(["CheckpointError", "available_models", "has_weights", "load_model", "pick_device",
                          "save_pretrained"], "checkpoint"),
         "upscale_tensor": "inference", "psnr": "metrics", "ssim": "metrics",
         **dict.fromkeys(["NET_PRESETS", "PRESETS", "build_model", "build_preset", "count_parameters"], "nets")}


def __getattr__(name: str):
    if name not in _LAZY:  # a submodule (sr_core.inference, ...) used as an attribute before its import
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    except ModuleNotFoundError as err:
        from .backends import TORCH_MODULES, needs_torch

        if (err.name or "").split(".")[0] not in TORCH_MODULES:
            raise
        raise needs_torch(f"sr_core.{name}") from None
    globals()[name] = value
    return value


__all__ = ["load_model", "save_pretrained", "available_models", "has_weights", "pick_device", "CheckpointError",
           "upscale", "upscale_tensor", "open_image", "to_tensor", "to_image", "ImageLoadError", "psnr", "ssim",
           "build_model", "build_preset", "count_parameters", "NET_PRESETS", "PRESETS", "load_onnx", "OnnxModel"]
