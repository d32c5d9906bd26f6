"""Paths and settings, each overridable by an environment variable.

``SR_DATA_ROOT``    data folder (default: ``../shared/data`` beside the checkout)
``SR_WEIGHTS_DIR``  shipped weights (default: ``weights/`` in the checkout)
``SR_HUB_REPO``     Hugging Face Hub repository holding ``<name>/model.safetensors``
                    + ``<name>/config.json`` for models absent locally (unset: the
                    Hub is not asked, so nothing is ever downloaded by default)
``SR_MAX_PIXELS``   largest input (width x height) the CLI and the app accept
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_PIXELS = 16_000_000  # input pixels; 4x output is 16x that


def data_root() -> Path:
    return Path(os.environ.get("SR_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


def weights_dir() -> Path:
    return Path(os.environ.get("SR_WEIGHTS_DIR", REPO_ROOT / "weights"))


def hub_repo() -> str | None:
    return os.environ.get("SR_HUB_REPO") or None


def max_pixels() -> int:
    return int(os.environ.get("SR_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def benchmark_dir(name: str) -> Path:
    """HR folder of a benchmark set: ``Set5``, ``Set14`` or ``BSD100``."""
    return data_root() / "sr_benchmark" / name / "HR"
