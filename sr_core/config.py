"""Paths and settings, each overridable by an environment variable.

``SR_DATA_ROOT``    data folder (default: ``../shared/data`` beside the checkout)
``SR_WEIGHTS_DIR``  shipped weights (default: ``weights/`` in the checkout; in an installed
                    copy, the ``sr_core/weights`` package data the wheel carries)
``SR_MODELS_DIR``   your own (community) model files, any architecture spandrel knows
                    (default: ``$XDG_DATA_HOME/sr-core/models``, i.e. ``~/.local/share/sr-core/models``;
                    ``%LOCALAPPDATA%\\sr-core\\models`` on Windows)
``SR_HUB_REPO``     Hugging Face Hub repository holding ``<name>/model.safetensors``
                    + ``<name>/config.json`` for models absent locally (unset: the
                    Hub is not asked, so nothing is ever downloaded by default)
``HF_HUB_OFFLINE``  ``1``: Hub files come from the local cache only (:func:`hub_offline`)
``SR_MAX_PIXELS``   largest input (width x height) the CLI and the app accept
``SR_VIDEO_MAX_PIXELS`` largest video frame (width x height) ``sr-core video`` accepts (default 1920x1088)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_PIXELS = 16_000_000  # input pixels; 4x output is 16x that


def data_root() -> Path:
    return Path(os.environ.get("SR_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"  # where an installed wheel keeps them


def weights_dir() -> Path:
    """``SR_WEIGHTS_DIR``, else the installed package's ``sr_core/weights``, else the checkout's ``weights/``."""
    if os.environ.get("SR_WEIGHTS_DIR"):
        return Path(os.environ["SR_WEIGHTS_DIR"])
    if PACKAGE_WEIGHTS.is_dir():
        return PACKAGE_WEIGHTS
    return REPO_ROOT / "weights"


def models_dir() -> Path:
    """Folder of the user's own model files (``SR_MODELS_DIR``; outside ``weights/``, never written by this library)."""
    if os.environ.get("SR_MODELS_DIR"):
        return Path(os.environ["SR_MODELS_DIR"]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "sr-core" / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "sr-core" / "models"


def hub_repo() -> str | None:
    return os.environ.get("SR_HUB_REPO") or None


def hub_offline(local_files_only: bool | None = None) -> bool:
    """``local_files_only`` when given, else ``HF_HUB_OFFLINE`` (``1``/``true``/``yes``): read the Hub cache only."""
    if local_files_only is not None:
        return local_files_only
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def max_pixels() -> int:
    return int(os.environ.get("SR_MAX_PIXELS", DEFAULT_MAX_PIXELS))


DEFAULT_MAX_VIDEO_PIXELS = 1920 * 1088  # 1080p in; at 4x that is 7680x4352, within H.264's largest frame


def max_video_pixels() -> int:
    return int(os.environ.get("SR_VIDEO_MAX_PIXELS", DEFAULT_MAX_VIDEO_PIXELS))


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo`` on Linux; empty where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    return set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))


def status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM, ...) in bytes; -1 where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def maxrss_bytes() -> int:
    """This process's peak RSS by getrusage, in bytes (kilobytes on Linux, bytes on macOS)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def benchmark_dir(name: str) -> Path:
    """HR folder of a benchmark set: ``Set5``, ``Set14`` or ``BSD100``."""
    return data_root() / "sr_benchmark" / name / "HR"
