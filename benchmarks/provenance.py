"""Which weights file a report used: its path and sha256, recorded in the report.

A committed report says which shipped file it describes (``weights/<name>/model.safetensors``) and that
file's sha256 when the report was made; ``tests/test_reports.py`` fails when a shipped file no longer
matches a report that claims to describe it, unless the report labels that figure as measured on an earlier
version (its top-level ``"stale"`` entry). The fields a report writer adds:

* ``"weights": "<path>"`` with ``"weights_sha256": "<hex>"`` beside it (one model), as
  :func:`weights_record` returns them; or ``"sr_weights"`` / ``"sr_weights_sha256"`` (``studies.catsdogs.data``);
* ``"weights_sha256": {"<name>": "<hex>", ...}`` (several models, by shipped name: ``train.figures``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sr_core.checkpoint import locate_weights
from sr_core.nets import CLASSICAL

WEIGHTS_FILE = "model.safetensors"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_file(name_or_path: str | Path) -> Path | None:
    """The weights file ``sr_core.load_model`` / ``load_classifier`` would read for a name or path (a folder,
    a file, ``weights/<name>/``, or the local Hub cache); None for the classical names or when there is none."""
    if str(name_or_path) in CLASSICAL:
        return None
    try:
        weights, _ = locate_weights(name_or_path, local_files_only=True)
    except FileNotFoundError:
        return None
    return weights if weights.is_file() else None


def _display(path: Path) -> str:
    """``path`` relative to the working folder (or its parent) when it lies below it: no machine prefix."""
    path, cwd = Path(path).absolute(), Path.cwd().absolute()
    for base, prefix in ((cwd, ""), (cwd.parent, "../")):  # ../shared/... as the other reports write it
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            pass
    return str(path)


def weights_record(name_or_path: str | Path) -> dict:
    """``{"weights": path, "weights_sha256": hex}`` for a model name or path; ``{}`` when no file is involved."""
    path = weights_file(name_or_path)
    if path is None:
        return {}
    return {"weights": _display(path), "weights_sha256": file_sha256(path)}


__all__ = ["file_sha256", "weights_file", "weights_record"]
