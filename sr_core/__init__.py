"""sr_core: super-resolution networks, losses, metrics, data, tiled inference and weights I/O.

Importing this package does no I/O, starts no GPU and downloads nothing.
Every public function takes and returns RGB float [0, 1] tensors in NCHW
order, or ``PIL.Image``s.
"""

from .checkpoint import (CheckpointError, available_models, has_weights, load_model, pick_device,
                         save_pretrained)
from .inference import upscale, upscale_tensor
from .io import ImageLoadError, open_image, to_image, to_tensor
from .metrics import psnr, ssim
from .nets import NET_PRESETS, PRESETS, build_model, build_preset, count_parameters

__version__ = "0.1.0"

__all__ = ["load_model", "save_pretrained", "available_models", "has_weights", "pick_device", "CheckpointError",
           "upscale", "upscale_tensor", "open_image", "to_tensor", "to_image", "ImageLoadError", "psnr", "ssim",
           "build_model", "build_preset", "count_parameters", "NET_PRESETS", "PRESETS"]
