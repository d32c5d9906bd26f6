"""The project's model names: ``NET_PRESETS`` maps each to an architecture and the constructor arguments it is
built with (``sr_core.nets.build_preset``); ``CLASSICAL`` are the names that need no weights.

Plain data, no torch: the light install (ONNX Runtime) lists and resolves the same names.
"""

# Model name -> (architecture, constructor arguments). The learned presets are
# the variants this project trains and ships; every argument can be changed in
# the training configs (e.g. ``--norm=batch`` for the paper's BatchNorm SRResNet).
NET_PRESETS: dict[str, tuple[str, dict]] = {
    "srresnet": ("srresnet", dict(norm="none", global_skip="bicubic")),
    "srgan": ("srresnet", dict(norm="none", global_skip="bicubic")),
    "swift-srgan": ("srresnet", dict(conv="separable", norm="none", global_skip="bicubic")),
    "srgan-catsdogs": ("srresnet", dict(norm="none", global_skip="bicubic")),
    "srcnn": ("srcnn", dict(residual=True)),
    "fast": ("fastsr", dict(num_features=48, num_blocks=6)),
    # the fast network trained for real photos (sr_core.degradations): pixel loss, then GAN fine-tuning
    "real-psnr": ("fastsr", dict(num_features=48, num_blocks=6)),
    "real": ("fastsr", dict(num_features=48, num_blocks=6)),
    "bicubic": ("interpolation", dict(mode="bicubic")),
    "lanczos": ("interpolation", dict(mode="lanczos")),
    "nearest": ("interpolation", dict(mode="nearest")),
}

PRESETS = NET_PRESETS  # the public name of sr_core (sr_core.PRESETS) before NET_PRESETS

# Names that need no weights.
CLASSICAL = ("bicubic", "lanczos", "nearest")


__all__ = ["NET_PRESETS", "PRESETS", "CLASSICAL"]
