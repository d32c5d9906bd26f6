"""Data of the cat-vs-dog study (issue 4), shared by ``studies/catsdogs/classifier.py``,
``studies/catsdogs/report.py`` and ``studies/realism.py``.

* ``<data_root>/cats_dogs/train/{cat,dog}`` (2001 photos): split per class, 70/30, with
  ``sr_core.data.split_paths(seed)`` into ``train`` (fitting) and ``val`` (model selection).
* ``<data_root>/cats_dogs/val/{cat,dog}`` (998 photos): the ``test`` set, used only for the final report.

HR = the photo resized directly to 128 x 128 (Pillow bicubic, whole picture, aspect ratio not kept:
``sr_core.classifier.prepare_image``); LR = ``sr_core.data.degrade(hr, 4)`` (Pillow bicubic, 32 x 32);
SR / bicubic = the LR upscaled 4x by a model of ``sr_core.load_model`` (``bicubic`` is one), rounded to
uint8 as a saved image would be. Every decoded set is a uint8 tensor (N, 3, H, W) cached in
``runs/catsdogs_cache/`` (keyed by the file list, sizes and the SR weights' hash), so later runs start at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sr_core import config as sr_config
from sr_core.classifier import LABELS, prepare_image
from sr_core.data import degrade, load_rgb, split_paths
from sr_core.io import list_images

log = logging.getLogger(__name__)

CACHE_DIR = Path("runs") / "catsdogs_cache"
SPLITS = ("train", "val", "test")


@dataclass
class ImageSet:
    """Images of one split as uint8 tensors with their labels (0 cat, 1 dog) and source paths."""
    hr: torch.Tensor            # (N, 3, 128, 128) uint8
    lr: torch.Tensor            # (N, 3, 32, 32) uint8
    labels: torch.Tensor        # (N,) int64
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx) -> "ImageSet":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return ImageSet(self.hr[idx], self.lr[idx], self.labels[idx], [self.paths[i] for i in idx.tolist()])


def split_files(data_root: str | Path | None = None, split: str = "train", seed: int = 0,
                train_fraction: float = 0.7, limit: int = 0) -> tuple[list[Path], list[int]]:
    """(paths, labels) of a split; ``limit`` > 0 keeps the first ``limit`` files of each class (tests)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(data_root) if data_root else sr_config.data_root()
    folder = root / "cats_dogs" / ("val" if split == "test" else "train")
    paths, labels = [], []
    for label, name in enumerate(LABELS):
        files = list_images(folder / name)
        if not files:
            raise FileNotFoundError(f"no images in {folder / name} (set SR_DATA_ROOT or --data_root)")
        if split != "test":
            fit, held = split_paths(files, train_fraction, seed)
            files = fit if split == "train" else held
        if limit:
            files = files[:limit]
        paths += files
        labels += [label] * len(files)
    return paths, labels


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def load_split(split: str, data_root: str | Path | None = None, seed: int = 0, size: int = 128, scale: int = 4,
               limit: int = 0, cache: bool = True) -> ImageSet:
    """Decode a split to HR (``size``) and LR (``size // scale``) uint8 tensors, cached on disk."""
    paths, labels = split_files(data_root, split, seed, limit=limit)
    key = _key(split, size, scale, *[(p, p.stat().st_size) for p in paths])
    cache_file = CACHE_DIR / f"{split}_{size}_{key}.pt"
    if cache and cache_file.is_file():
        blob = torch.load(cache_file, weights_only=True)
        return ImageSet(blob["hr"], blob["lr"], blob["labels"], blob["paths"])
    hr = torch.empty(len(paths), 3, size, size, dtype=torch.uint8)
    lr = torch.empty(len(paths), 3, size // scale, size // scale, dtype=torch.uint8)
    for i, path in enumerate(paths):
        img = prepare_image(load_rgb(path), size)
        hr[i] = torch.from_numpy(np.array(img)).permute(2, 0, 1)
        lr[i] = torch.from_numpy(np.array(degrade(img, scale))).permute(2, 0, 1)
    out = ImageSet(hr, lr, torch.tensor(labels, dtype=torch.long), [str(p) for p in paths])
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".part")
        torch.save({"hr": out.hr, "lr": out.lr, "labels": out.labels, "paths": out.paths}, tmp)
        tmp.replace(cache_file)
    return out


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round_().to(torch.uint8)


def sr_model_id(name_or_path: str) -> dict:
    """What identifies an SR model's output: its name, and for learned models the weights file and its hash."""
    from sr_core.checkpoint import WEIGHTS_FILE
    from sr_core.nets import CLASSICAL

    if name_or_path in CLASSICAL:
        return {"sr_model": name_or_path}
    from sr_core import config as cfg

    path = Path(name_or_path)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    elif not path.is_file():
        path = cfg.weights_dir() / name_or_path / WEIGHTS_FILE
    info = {"sr_model": name_or_path}
    if path.is_file():
        info["sr_weights"] = str(path)
        info["sr_weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        cfg_file = path.parent / "config.json"
        if cfg_file.is_file():
            c = json.loads(cfg_file.read_text())
            info.update({k: c[k] for k in ("name", "arch", "iterations", "dataset") if k in c})
    return info


def load_sr_model(name_or_path: str):
    """``sr_core.load_model`` with a clear one-line error when the weights are missing."""
    from sr_core import load_model

    try:
        model = load_model(name_or_path)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"SR model {name_or_path!r} not found ({err}); give another SR model name or "
                                f"checkpoint path, e.g. bicubic or runs/<run>/weights") from None
    if model.config.get("scale") != 4:
        raise ValueError(f"SR model {name_or_path!r} upscales {model.config.get('scale')}x; the study needs 4x")
    return model


@torch.no_grad()
def upscale_batch(model, lr: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """uint8 (N, 3, h, w) -> uint8 (N, 3, 4h, 4w) through an SR model (or ``bicubic``)."""
    out = []
    for chunk in lr.split(batch_size):
        out.append(to_uint8(model(to_float(chunk)).float()))
    return torch.cat(out) if out else torch.empty(0, 3, lr.shape[2] * 4, lr.shape[3] * 4, dtype=torch.uint8)


def upscaled(images: ImageSet, sr_model: str, cache: bool = True, model=None) -> torch.Tensor:
    """The LR images of ``images`` upscaled by ``sr_model`` (name or path), cached by the weights' hash."""
    ident = sr_model_id(sr_model)
    key = _key(ident.get("sr_weights_sha256", sr_model), images.paths, tuple(images.lr.shape))
    cache_file = CACHE_DIR / f"sr_{key}.pt"
    if cache and cache_file.is_file():
        return torch.load(cache_file, weights_only=True)["sr"]
    model = model if model is not None else load_sr_model(sr_model)
    sr = upscale_batch(model, images.lr)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".part")
        torch.save({"sr": sr, "ident": json.dumps(ident)}, tmp)
        tmp.replace(cache_file)
    return sr


def snapshot_sr_weights(name_or_path: str, dest: str | Path) -> str:
    """Copy a (possibly still changing, e.g. in-training) SR checkpoint folder to ``dest`` so a study uses
    one fixed version; returns the path to use. Names without a folder (``bicubic``, shipped names) are
    returned unchanged."""
    import shutil

    from sr_core.checkpoint import CONFIG_FILE, WEIGHTS_FILE

    src = Path(name_or_path)
    if src.is_file():
        src = src.parent
    if not src.is_dir() or not (src / WEIGHTS_FILE).is_file():
        return name_or_path
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for _ in range(5):  # retry if the trainer replaced the weights while we copied
        stamp = (src / WEIGHTS_FILE).stat().st_mtime_ns
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if (src / name).is_file():
                shutil.copy2(src / name, dest / name)
        if (src / WEIGHTS_FILE).stat().st_mtime_ns == stamp:
            break
    return str(dest)


def probabilities(model, images: torch.Tensor, chunk: int = 200) -> torch.Tensor:
    """``predict_proba`` over a uint8 (N, 3, H, W) tensor, converted to float a chunk at a time."""
    from sr_core.classifier import predict_proba

    if len(images) == 0:
        return torch.empty(0, 2)
    return torch.cat([predict_proba(model, to_float(c)) for c in images.split(chunk)])
