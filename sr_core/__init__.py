"""sr_core: super-resolution networks, losses, metrics, data, tiled inference and weights I/O.

Importing this package does no I/O, starts no GPU and downloads nothing.
Every public function takes and returns RGB float [0, 1] tensors in NCHW
order, or ``PIL.Image``s. Without torch (the light install, ONNX Runtime only)
``upscale``, ``load_onnx``, ``open_image`` and the ``sr-core`` upscale command
work; the rest needs ``pip install "sr-core[torch]"``.
"""

__version__ = "0.1.0"

from .backends import OnnxModel, load_onnx, upscale
from .io import ImageLoadError, open_image

try:
    from .checkpoint import (CheckpointError, available_models, has_weights, load_model, pick_device,
                             save_pretrained)
    from .inference import upscale_tensor
    from .io import to_image, to_tensor
    from .metrics import psnr, ssim
    from .nets import PRESETS, build_model, build_preset, count_parameters
except ModuleNotFoundError as err:  # the light install: the names below say what to install when used
    if err.name != "torch":
        raise
    from .backends import needs_torch as _needs_torch

    def __getattr__(name: str):
        if name in __all__:
            raise _needs_torch(f"sr_core.{name}")
        raise AttributeError(f"module 'sr_core' has no attribute {name!r}")

__all__ = ["load_model", "save_pretrained", "available_models", "has_weights", "pick_device", "CheckpointError",
           "upscale", "upscale_tensor", "open_image", "to_tensor", "to_image", "ImageLoadError", "psnr", "ssim",
           "build_model", "build_preset", "count_parameters", "PRESETS", "load_onnx", "OnnxModel"]
