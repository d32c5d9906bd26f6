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
from sr_core.nets import CLASSICAL, PRESETS

CLASSIFIERS = ("classifier-a", "classifier-b")


def device() -> torch.device:
    """``SR_DEVICE`` (default ``auto``: CUDA when present, else CPU)."""
    return sr_core.pick_device(os.environ.get("SR_DEVICE", "auto"))


def learned_models() -> list[str]:
    return [name for name in PRESETS if name not in CLASSICAL]


def is_available(name: str) -> bool:
    """Classical, or learned with weights in ``weights/<name>/`` (or a Hub repository to fetch them from)."""
    return name in PRESETS and (sr_core.has_weights(name) or config.hub_repo() is not None)


def model_choices() -> list[str]:
    """Models the app can run now: learned ones with weights first, then the classical ones."""
    return [name for name in learned_models() if is_available(name)] + list(CLASSICAL)


def unavailable_models() -> list[str]:
    return [name for name in learned_models() if not is_available(name)]


def default_model() -> str:
    """The first learned model with weights, else ``bicubic``."""
    return model_choices()[0]


@functools.lru_cache(maxsize=8)
def get_model(name: str) -> nn.Module:
    """``sr_core.load_model(name)`` on ``device()``, loaded once per process."""
    return sr_core.load_model(name, device=device())


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
    get_model.cache_clear()
    get_classifier.cache_clear()
