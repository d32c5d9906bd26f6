"""Training data options against an independent Pillow computation: ``SRTrainSet``'s HR crops and LR images
(``bicubic`` and ``blur``), validation pairs for ``--degradation blur``, and a tiny ``--degradation blur`` run."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from conftest import smooth_rgb
from sr_core.data import SRTrainSet

REPO = Path(__file__).resolve().parents[1]
SCALE, CROP = 4, 32


def _u8(t) -> np.ndarray:
    """(3, H, W) float tensor in [0, 1] -> (H, W, 3) uint8."""
    return np.clip(np.round(t.permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)


def _pillow_bicubic(hr: np.ndarray) -> np.ndarray:
    img = Image.fromarray(hr)
    return np.asarray(img.resize((img.width // SCALE, img.height // SCALE), Image.BICUBIC))


def _pillow_blur(hr: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (Pillow), then every SCALE-th pixel from offset SCALE // 2: the ``blur`` degradation."""
    blurred = np.asarray(Image.fromarray(hr).filter(ImageFilter.GaussianBlur(sigma))).astype(np.int16)
    return blurred[SCALE // 2::SCALE, SCALE // 2::SCALE]


def _find(window: np.ndarray, photo: np.ndarray, transforms: bool) -> bool:
    """Whether ``window`` is a CROP x CROP window of ``photo`` (or, with ``transforms``, a flip/rotation of one)."""
    candidates = [window]
    if transforms:
        candidates = [np.rot90(w, -r) for w in (window, window[:, ::-1]) for r in range(4)]
        candidates += [np.rot90(window, -r)[:, ::-1] for r in range(4)]
    h, w = photo.shape[:2]
    for cand in candidates:
        for y, x in itertools.product(range(h - CROP + 1), range(w - CROP + 1)):
            if np.array_equal(photo[y:y + CROP, x:x + CROP], cand):
                return True
    return False


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    arrays = {}
    for i, (w, h) in enumerate([(52, 44), (40, 60)]):
        arrays[i] = smooth_rgb(w, h, seed=i)
        Image.fromarray(arrays[i]).save(folder / f"p{i}.png")
    Image.fromarray(smooth_rgb(20, 20, seed=9)).save(folder / "small.png")  # smaller than the crop: skipped
    return folder, arrays


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augment"])
def test_train_set_bicubic_crop_and_lr(photos, augment):
    folder, arrays = photos
    ds = SRTrainSet([folder], CROP, SCALE, "bicubic", augment=augment, seed=3)
    assert len(ds.images) == 2  # the 20 x 20 photo is skipped
    for k in range(6):
        lr, hr = ds[k]
        assert hr.shape == (3, CROP, CROP) and lr.shape == (3, CROP // SCALE, CROP // SCALE)
        hr8 = _u8(hr)
        assert any(_find(hr8, a, augment) for a in arrays.values()), k  # a real window of a training photo
        assert np.array_equal(_u8(lr), _pillow_bicubic(hr8)), k           # Pillow's bicubic 4x downscale of it
    # sample k depends only on (seed, k)
    again = SRTrainSet([folder], CROP, SCALE, "bicubic", augment=augment, seed=3)
    assert all(np.array_equal(ds[k][1].numpy(), again[k][1].numpy()) for k in range(3))


@pytest.mark.parametrize("sigma", [1.6, 1.0])
def test_train_set_blur_lr(photos, sigma):
    folder, arrays = photos
    ds = SRTrainSet([folder], CROP, SCALE, "blur", augment=False, seed=0, blur_sigma=sigma)
    for k in range(4):
        lr, hr = ds[k]
        hr8 = _u8(hr)
        assert any(_find(hr8, a, False) for a in arrays.values())
        diff = np.abs(_u8(lr).astype(np.int16) - _pillow_blur(hr8, sigma))
        assert diff.mean() <= 1.0 and diff.max() <= 4, (k, diff.mean(), diff.max())
        # and it is not the bicubic LR (the option changes the data)
        assert np.abs(_u8(lr).astype(np.int16) - _pillow_bicubic(hr8)).mean() > 0.3


def test_validation_pairs_use_the_training_degradation(photos):
    """``--degradation blur`` makes the validation LR with the same blur (so its PSNR measures that task)."""
    from train.config import TrainConfig
    from train.loop import validation_pairs

    folder, arrays = photos
    for val_crop in (0, 32):
        cfg = TrainConfig(val_set=str(folder), degradation="blur", blur_sigma=1.6, val_crop=val_crop)
        pairs = validation_pairs(cfg, Path("/"))
        assert len(pairs) == 3
        for _, lr, hr in pairs:
            hr8 = _u8(hr[0])
            diff = np.abs(_u8(lr[0]).astype(np.int16) - _pillow_blur(hr8, 1.6))
            assert diff.mean() <= 1.0 and diff.max() <= 4


def _tiny_run(photos, tmp_path: Path, *args: str, timeout: float = 1500) -> Path:
    """``train.srresnet --tiny --max_iters=2`` on the test photos in a subprocess; returns its run folder."""
    from sr_core import config

    data = config.data_root()
    if not (data / "sr_benchmark" / "Set5" / "HR").is_dir():
        pytest.skip("Set5 not found (shared data absent)")
    folder, _ = photos
    env = {**os.environ, "PYTHONPATH": str(REPO), "SR_DATA_ROOT": str(data), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "train.srresnet", "--tiny", "--no-progress", "--no-plot", "--max_iters=2",
           f"--train_dirs={folder}", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = next(a.split("=", 1)[1] for a in args if a.startswith("--name="))
    return tmp_path / "runs" / name


def test_tiny_run_with_blur_degradation(photos, tmp_path):
    """``train.srresnet --degradation=blur`` runs, validates with blur and ships a card that says blur."""
    run = _tiny_run(photos, tmp_path, "--degradation=blur", "--name=blur")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    val = [r for r in rows if r["kind"] == "val"]
    assert val and all(r["degradation"] == "blur" for r in val)
    card = json.loads((run / "weights" / "config.json").read_text())
    assert card["degradation"] == "blur" and card["training"]["blur_sigma"] == 1.6


def test_tiny_run_with_real_degradation_in_a_loader_worker(photos, tmp_path):
    """``--workers=1`` with the real degradations trains instead of hanging.

    The validation pairs are degraded with OpenCV in the parent before the worker forks; a worker that then set
    OpenCV's thread count waited forever for pool threads it did not have (seen with ``train.real
    --recipe=cpu-gan``). The timeout turns such a hang into a failure.
    """
    run = _tiny_run(photos, tmp_path, "--degradation=real", "--workers=1", "--name=worker", timeout=600)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert [r["iter"] for r in rows if r["kind"] == "train"][-1] == 2
