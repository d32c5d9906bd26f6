"""Which models the app offers, and loading them once (on first use, never at import).

``get_model(name)`` and ``get_classifier(name)`` are cached with
``functools.lru_cache``. A failed load is not cached, so weights that appear
in ``weights/<name>/`` later are picked up by the next request, and the model
list (``model_choices``) is read from disk every time it is asked for.
"""

from __future__ import annotations

import functools
import importlib
import os

import torch
from torch import nn

import sr_core
from sr_core import config
from sr_core.checkpoint import blend_cache_info, clear_blend_cache
from sr_core.detail import DETAIL_PAIRS, detail_for
from sr_core.nets import CLASSICAL, NET_PRESETS

from . import custom_models  # your own models: the models folder and uploads

CLASSIFIERS = ("classifier-a", "classifier-b")


def device() -> torch.device:
    """``SR_DEVICE`` (default ``auto``: CUDA when present, else CPU)."""
    return sr_core.pick_device(os.environ.get("SR_DEVICE", "auto"))


def learned_models() -> list[str]:
    return [name for name in NET_PRESETS if name not in CLASSICAL]


def is_available(name: str) -> bool:
    """Classical, or learned with weights in ``weights/<name>/`` (or a Hub repository to fetch them from)."""
    return name in NET_PRESETS and (sr_core.has_weights(name) or config.hub_repo() is not None)


def model_choices() -> list[str]:
    """Models the app can run now: learned ones with weights first, your own (SR_MODELS_DIR), then the classical ones."""
    return ([name for name in learned_models() if is_available(name)] + custom_models.community_choices()
            + list(CLASSICAL))


def unavailable_models() -> list[str]:
    return [name for name in learned_models() if not is_available(name)]


# The Upscale tab's (and ``/upscale``'s) default: the model trained for ordinary photos, when it has weights.
UPSCALE_DEFAULT = "real"


def default_model(choices: list[str] | None = None) -> str:
    """``real`` when it can run, else the first learned model with weights, else ``bicubic``."""
    choices = model_choices() if choices is None else choices
    return UPSCALE_DEFAULT if UPSCALE_DEFAULT in choices else choices[0]


# A few words per model for the model lists: what each one is for.
DESCRIPTIONS = {
    "real": "phone photos and web JPEGs: removes noise and JPEG blocks; Detail adds GAN texture (not for clean images)",
    "real-psnr": "phone photos and web JPEGs: removes noise and JPEG blocks, smooth (pixel loss; not for clean images)",
    "fast": "CPU-first network: about 5x faster than srresnet, a little less sharp; clean images",
    "srresnet": "clean images; best PSNR on the paper's benchmark (the SRGAN paper's PSNR network)",
    "srgan": "clean images; sharper texture (GAN), lower PSNR",
    "swift-srgan": "depthwise-separable SRGAN (Swift-SRGAN); GAN texture",
    "srgan-catsdogs": "srgan fine-tuned on cat and dog photos",
    "srcnn": "the 2014 baseline; small and fast",
    "bicubic": "classical interpolation, no network",
    "lanczos": "classical interpolation, no network",
    "nearest": "pixel replication, no network",
}


def describe(name: str) -> str:
    """``"name: what it is for"`` (just the name where there is no description)."""
    text = DESCRIPTIONS.get(name)
    return f"{name}: {text}" if text else name


def set5_psnr(name: str) -> float | None:
    """The Set5 PSNR on the model card (``config.json`` ``metrics``), or None."""
    try:
        return float(sr_core.checkpoint.read_config(config.weights_dir() / name / "config.json")
                     ["metrics"]["Set5"]["psnr"])
    except Exception:  # no weights, no card, no metrics: no figure
        return None


def best_psnr_model(choices: list[str] | None = None) -> str:
    """The offered model with the best Set5 PSNR on its card (the Compare tab's default), else the first."""
    choices = model_choices() if choices is None else choices
    scored = [(set5_psnr(n), n) for n in choices]
    scored = [(p, n) for p, n in scored if p is not None]
    return max(scored)[1] if scored else choices[0]


def compare_default(preset: str, choices: list[str] | None = None) -> str:
    """The Compare tab's model for a preset: the real-photo default (``default_model``: ``real``, at
    ``sr_core.detail.DEFAULT_DETAIL``) for "realistic", where the clean models score below bicubic; the best
    clean model (``best_psnr_model``) for the bicubic presets ("standard", "catdog32")."""
    choices = model_choices() if choices is None else choices
    return default_model(choices) if preset == "realistic" else best_psnr_model(choices)


@functools.lru_cache(maxsize=8)
def _get_model(name: str) -> nn.Module:
    return sr_core.load_model(custom_models.path_of(name) or name, device=device())


def loaded_models() -> int:
    """How many networks this process holds (tests: importing the app loads none)."""
    return _get_model.cache_info().currsize + blend_cache_info().currsize


def get_model(name: str, detail: float | None = None) -> nn.Module:
    """``sr_core.load_model(name)`` on ``device()``, loaded once per process (uploads: demo/custom_models.py).

    For ``real`` (``sr_core.detail.DETAIL_PAIRS``) ``detail`` in [0, 1] (None: the default) blends it with
    ``real-psnr``: ``sr_core.load_model(name, detail=...)``, which builds each value's network once and caches
    it. Other models ignore ``detail``.
    """
    if name in DETAIL_PAIRS:
        return sr_core.load_model(name, device=device(), detail=detail_for(name, detail))
    return _get_model(name)


def classifier_module():
    """``sr_core.classifier`` if it can be imported, else None (it is optional)."""
    try:
        return importlib.import_module("sr_core.classifier")
    except ImportError:
        return None


@functools.lru_cache(maxsize=len(CLASSIFIERS))
def get_classifier(name: str) -> nn.Module:
    """The cat/dog classifier ``name``; raises ImportError (no module) or FileNotFoundError (no weights)."""
    module = classifier_module()
    if module is None:
        raise ImportError("sr_core.classifier is not installed")
    return module.load_classifier(name, device=device())


def on_gpu(fn):
    """``spaces.GPU(fn)`` on a Hugging Face ZeroGPU Space (when ``import spaces`` works), else ``fn`` unchanged."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn)


def clear_caches() -> None:
    _get_model.cache_clear()
    clear_blend_cache()
    get_classifier.cache_clear()
