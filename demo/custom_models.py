"""Your own models in the app: the models folder (``SR_MODELS_DIR``) and uploaded model files.

Files in the models folder are offered in the model lists (read again on every
page load). An uploaded file is checked (size, extension, loadable by spandrel
without running any code from it), kept under a content-hash name in a
private temporary folder of this server process, and offered only in the
uploading page's model lists (it is gone from them after a reload; upload it again).

``SR_APP_MAX_MODEL_MB``  largest uploaded model file in MB (default 200)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from sr_core import community

UPLOAD_PREFIX = "uploaded-"
DEFAULT_MAX_MODEL_MB = 200

_upload_root: Path | None = None


def max_upload_mb() -> float:
    return float(os.environ.get("SR_APP_MAX_MODEL_MB", DEFAULT_MAX_MODEL_MB))


def community_choices() -> list[str]:
    """File names in the models folder (``sr_core.config.models_dir()``)."""
    return community.models_dir_names()


def upload_dir() -> Path:
    global _upload_root
    if _upload_root is None or not _upload_root.is_dir():
        _upload_root = Path(tempfile.mkdtemp(prefix="sr-core-uploads-"))
    return _upload_root


def path_of(name: str | None) -> Path | None:
    """The stored file of an uploaded model's name, or None when ``name`` is no upload."""
    if not name or not str(name).startswith(UPLOAD_PREFIX) or "/" in name or "\\" in name:
        return None
    path = upload_dir() / name
    return path if path.is_file() else None


def add_upload(path: str | Path | None, load) -> str:
    """Check and store an uploaded model file; return its model name (``uploaded-<hash>-<file name>``).

    ``load(name)`` loads the stored model (the app passes ``demo.models.get_model``, which caches
    it). Raises ``gradio.Error`` with a one-line reason for a missing, too large or unusable file.
    """
    import gradio as gr

    if not path:
        raise gr.Error("No model file received.")
    path = Path(path)
    original = path.name  # the uploaded file's own name; never a server path in messages
    if path.suffix.lower() not in community.SUFFIXES:
        raise gr.Error(f"{original}: not a model file; expected {', '.join(community.SUFFIXES)}.")
    size = path.stat().st_size
    limit = max_upload_mb()
    if size > limit * 1e6:
        raise gr.Error(f"{original} is {size / 1e6:,.0f} MB; uploaded models may be at most {limit:g} MB "
                       "(SR_APP_MAX_MODEL_MB). Put larger files in the models folder (SR_MODELS_DIR).")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", original)[-80:]
    name = f"{UPLOAD_PREFIX}{digest.hexdigest()[:12]}-{safe}"
    stored = upload_dir() / name
    if not stored.is_file():
        shutil.copyfile(path, stored)
    try:
        load(name)
    except (FileNotFoundError, OSError, ValueError) as err:  # CheckpointError is a ValueError
        stored.unlink(missing_ok=True)
        reason = str(err).replace(f"{stored}: ", "").replace(str(stored), original)
        raise gr.Error(f"Could not use {original}: {reason}") from None
    return name


__all__ = ["community_choices", "add_upload", "path_of", "max_upload_mb", "UPLOAD_PREFIX"]
