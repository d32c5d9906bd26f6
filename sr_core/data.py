"""Training and evaluation data for super-resolution.

LR images are made on the fly from HR crops, by one of two degradations:

* ``bicubic``: Pillow's antialiased bicubic resize (``Image.resize(...,
  Image.BICUBIC)``, cubic a = -0.5), the closest Python match to MATLAB's
  ``imresize`` that the SR literature uses;
* ``blur``: a Gaussian blur (sigma ``blur_sigma``, default 1.6 for 4x) and
  then keeping every ``scale``-th pixel (the "BD" degradation).

``SRTrainSet`` also takes ``real`` and ``real-mild``: Real-ESRGAN's
second-order blur / resize / noise / JPEG model (``sr_core.degradations``,
which says how the two above are special cases of it), and ``real-mix``:
per sample bicubic, ``real-mild`` or ``real`` (``MIXES``).

``SRTrainSet`` is indexed by a sample number: sample ``k`` is a pure function
of ``(seed, k)`` (which image, where to crop, which flip/rotation), so a
resumed or distributed run draws exactly the samples an uninterrupted one would.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch.utils.data import Dataset, Sampler

from .io import IMAGE_EXTENSIONS, list_images, to_tensor

log = logging.getLogger(__name__)

DEGRADATIONS = ("bicubic", "blur")
REAL_DEGRADATIONS = ("real", "real-mild", "real-mix")  # SRTrainSet only: sr_core.degradations presets
# "real-mix": each sample draws one of these (probabilities): clean photos must stay clean, so a model for real
# photos also sees bicubic-only LR (the first real-psnr, trained on "real" alone, fell from fast's 30.87 dB to
# 26.69 dB on clean Set5)
MIXES = {"real-mix": (("bicubic", 0.3), ("real-mild", 0.3), ("real", 0.4))}


def parse_mix(text: str) -> tuple:
    """``"bicubic:0.5,real-mild:0.2,real:0.3"`` -> ``(("bicubic", 0.5), ...)``: the components of a
    ``real-mix`` other than the default ``MIXES["real-mix"]``. Components are ``bicubic``, ``blur``, ``real``
    or ``real-mild``, each at most once; the probabilities are positive and add up to 1."""
    parts = []
    for item in text.split(","):
        kind, sep, p = item.strip().partition(":")
        try:
            p = float(p) if sep else float("nan")
        except ValueError:
            p = float("nan")
        if kind not in DEGRADATIONS + ("real", "real-mild") or not p > 0:
            raise ValueError(f"mix component {item.strip()!r}: want KIND:P with KIND one of bicubic, blur, real, "
                             f"real-mild and P > 0")
        parts.append((kind, p))
    kinds = [kind for kind, _ in parts]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"mix {text!r} names a component twice")
    if abs(sum(p for _, p in parts) - 1) > 1e-6:
        raise ValueError(f"mix {text!r}: the probabilities add up to {sum(p for _, p in parts):g}, not 1")
    return tuple(parts)


def split_paths(paths: list[Path], train_fraction: float = 0.7, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Deterministic split (sorted, then shuffled with ``seed``) into train and validation lists."""
    paths = sorted(paths)
    random.Random(seed).shuffle(paths)
    n = int(round(len(paths) * train_fraction))
    return sorted(paths[:n]), sorted(paths[n:])


def degrade(hr: Image.Image, scale: int, kind: str = "bicubic", blur_sigma: float = 1.6) -> Image.Image:
    """Make the LR image of an HR image whose sides are multiples of ``scale``."""
    w, h = hr.size
    if w % scale or h % scale:
        raise ValueError(f"HR size {w}x{h} is not a multiple of the scale {scale}")
    if kind == "bicubic":
        return hr.resize((w // scale, h // scale), Image.BICUBIC)
    if kind == "blur":
        blurred = np.asarray(hr.filter(ImageFilter.GaussianBlur(blur_sigma)))
        off = scale // 2
        return Image.fromarray(np.ascontiguousarray(blurred[off::scale, off::scale]))
    raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {kind!r}")


def mod_crop(img: Image.Image, scale: int) -> Image.Image:
    """Crop the right and bottom edges so both sides are multiples of ``scale``."""
    w, h = img.size
    return img.crop((0, 0, w - w % scale, h - h % scale))


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


class SRTrainSet(Dataset):
    """Random HR crops of a set of photos with their LR made on the fly.

    Args:
        paths: image files or folders (searched recursively).
        crop_size: HR crop side (must be a multiple of ``scale``).
        scale: downscaling factor.
        degradation: ``bicubic``, ``blur``, ``real`` or ``real-mild`` (``sr_core.degradations``).
        augment: random horizontal flips and 90-degree rotations.
        seed: sample ``k`` depends only on ``(seed, k)``.
        blur_sigma: sigma of the ``blur`` degradation.
        degradation_config: a ``sr_core.degradations.DegradationConfig`` (or preset name) used instead of
            the ``real``/``real-mild`` preset; only with those degradations.
        mix: ``real-mix`` only: its components, ``((kind, p), ...)`` or a ``parse_mix`` string, instead of
            ``MIXES["real-mix"]``.

    Images are decoded once and kept in memory as uint8 arrays (the training
    photos here decode to about 300 MB); images smaller than the crop are
    skipped with a warning.
    """

    def __init__(self, paths, crop_size: int = 96, scale: int = 4, degradation: str = "bicubic",
                 augment: bool = True, seed: int = 0, blur_sigma: float = 1.6, degradation_config=None,
                 mix=None):
        if crop_size % scale:
            raise ValueError(f"crop_size {crop_size} must be a multiple of scale {scale}")
        if degradation not in DEGRADATIONS + REAL_DEGRADATIONS:
            raise ValueError(f"degradation must be one of {DEGRADATIONS + REAL_DEGRADATIONS}, got {degradation!r}")
        if degradation_config is not None and degradation not in ("real", "real-mild"):
            raise ValueError(f"degradation_config needs degradation 'real' or 'real-mild', got {degradation!r}")
        if mix and degradation not in MIXES:
            raise ValueError(f"mix needs degradation 'real-mix', got {degradation!r}")
        if isinstance(mix, str):
            mix = parse_mix(mix)
        self.real = None
        self.mix: tuple = ()
        if degradation in REAL_DEGRADATIONS:  # imported here: OpenCV is needed only for these
            from .degradations import RealDegradation
            if degradation in MIXES:
                self.mix = tuple((kind, p, RealDegradation(kind) if kind in REAL_DEGRADATIONS else None)
                                 for kind, p in (mix or MIXES[degradation]))
            else:
                self.real = RealDegradation(degradation_config if degradation_config is not None else degradation)
        self.crop_size, self.scale, self.degradation = crop_size, scale, degradation
        self.augment, self.seed, self.blur_sigma = augment, seed, blur_sigma
        self.images: list[np.ndarray] = []
        self.names: list[str] = []
        for path in list_images(paths):
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            arr = np.asarray(load_rgb(path))
            if min(arr.shape[:2]) < crop_size:
                log.warning("skipping %s: %dx%d is smaller than the %d px crop", path, arr.shape[1], arr.shape[0],
                            crop_size)
                continue
            self.images.append(arr)
            self.names.append(str(path))
        if not self.images:
            raise ValueError(f"no training images of at least {crop_size}x{crop_size} found in {paths}")

    def __len__(self) -> int:
        return 2 ** 62  # indexed by sample number; use StepSampler

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, int(k)))
        img = self.images[rng.integers(len(self.images))]
        h, w = img.shape[:2]
        y, x = rng.integers(h - self.crop_size + 1), rng.integers(w - self.crop_size + 1)
        crop = img[y:y + self.crop_size, x:x + self.crop_size]
        if self.augment:
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            crop = np.rot90(crop, rng.integers(4))
        hr = Image.fromarray(np.ascontiguousarray(crop))
        real, kind = self.real, self.degradation
        if self.mix:  # one component per sample, drawn from the same generator
            u, edge = rng.random(), 0.0
            for kind, p, real in self.mix:
                edge += p
                if u < edge:
                    break
        if real is not None:  # the same generator goes on drawing the degradation's parameters
            lr, _ = real(np.asarray(hr), self.scale, rng)
            return torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))), to_tensor(hr)[0]
        lr = degrade(hr, self.scale, kind, self.blur_sigma)
        return to_tensor(lr)[0], to_tensor(hr)[0]


class StepSampler(Sampler):
    """Yields batches of sample numbers for iterations ``start, start+1, ...`` (endless).

    Batch ``i`` of rank ``r`` out of ``world`` holds samples
    ``(i * world + r) * batch_size + j``: every rank sees different samples,
    and a run resumed at iteration ``start`` continues the same sequence.
    """

    def __init__(self, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1):
        self.batch_size, self.start, self.rank, self.world = batch_size, start, rank, world_size

    def __iter__(self):
        i = self.start
        while True:
            base = (i * self.world + self.rank) * self.batch_size
            yield list(range(base, base + self.batch_size))
            i += 1

    def __len__(self) -> int:
        return 2 ** 62


def load_eval_set(hr_dir: str | Path, scale: int = 4, degradation: str = "bicubic", blur_sigma: float = 1.6, *,
                  seed: int = 0, limit: int | None = None, crop: int = 0
                  ) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Evaluation pairs ``(name, lr, hr)`` as (1, 3, h, w) tensors: the images of ``hr_dir`` (sorted), each HR
    cropped to a multiple of the scale.

    Args:
        degradation: ``bicubic`` or ``blur`` (clean, ``degrade``), or a ``sr_core.degradations`` preset
            (``real``, ``real-mild``): image ``i`` drawn with ``(seed, i)``, so the set is fixed.
        limit: only the first ``limit`` images.
        crop: a centred square HR crop of at most this side (0: the whole image).
    """
    paths = list_images(hr_dir)
    if not paths:
        raise FileNotFoundError(f"no images in {hr_dir}")
    pairs = []
    for i, path in enumerate(paths[:limit]):
        hr = mod_crop(load_rgb(path), scale)
        if crop:
            side = min(crop, *hr.size) // scale * scale
            x, y = (hr.width - side) // 2, (hr.height - side) // 2
            hr = hr.crop((x, y, x + side, y + side))
        if degradation in DEGRADATIONS:
            lr = degrade(hr, scale, degradation, blur_sigma)
        else:
            from .degradations import degrade_real

            lr = degrade_real(hr, scale, degradation, seed=seed, index=i)
        pairs.append((path.stem, to_tensor(lr), to_tensor(hr)))
    return pairs
