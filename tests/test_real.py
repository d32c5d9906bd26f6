"""The realistic-degradation benchmark (``benchmarks.real``) and its no-reference score (``benchmarks.niqe``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from sr_core import config
from sr_core.data import load_eval_set

from benchmarks import niqe as N
from benchmarks import real


@pytest.fixture(scope="module")
def bsd100_photo():
    from sr_core import config

    folder = config.benchmark_dir("BSD100")
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not paths:
        pytest.skip(f"BSD100 not found at {folder} (shared data absent)")
    return [Image.open(p).convert("RGB") for p in paths[:3]]


def test_niqe_ranks_clean_photos_above_blurred_and_noisy_copies(bsd100_photo):
    rng = np.random.default_rng(0)
    for photo in bsd100_photo:
        clean = N.niqe(photo)
        blurred = N.niqe(photo.filter(ImageFilter.GaussianBlur(2)))
        arr = np.asarray(photo, dtype=np.float64)
        noisy = N.niqe(np.clip(np.round(arr + rng.normal(0, 15, arr.shape)), 0, 255).astype(np.uint8))
        assert clean < blurred and clean < noisy, (clean, blurred, noisy)
        assert 1 < clean < 6  # BSD100 HR photos score about 2-3.5 with the MATLAB pristine model


def test_niqe_inputs_agree_and_small_images_are_refused():
    from conftest import smooth_rgb

    import torch

    arr = smooth_rgb(200, 100, seed=1)
    t = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
    assert N.niqe(arr) == N.niqe(Image.fromarray(arr)) == N.niqe(t) == N.niqe(arr.astype(np.float32) / 255)
    with pytest.raises(ValueError):
        N.niqe(smooth_rgb(90, 200))


def test_matlab_half_resize_is_pillows_bicubic_away_from_the_borders():
    a = np.random.default_rng(0).random((40, 30))
    ref = np.asarray(Image.fromarray(a.astype(np.float32)).resize((15, 20), Image.BICUBIC), np.float64)
    assert np.abs(N.matlab_half(a)[2:-2, 2:-2] - ref[2:-2, 2:-2]).max() < 1e-5
    assert np.allclose(N.matlab_half(np.ones((12, 10))), 1.0)


def test_benchmark_smoke_run(tmp_path, bsd100_photo):
    report = real.main(["--limit", "1", "--models", "bicubic", "--out", str(tmp_path), "--threads", "1"])
    saved = json.loads((tmp_path / "real.json").read_text())
    assert saved["images"] == 1 and set(saved["results"]) == {"bicubic"}
    for s in real.STRENGTHS:
        r = saved["results"]["bicubic"]["sets"][s]
        assert 10 < r["psnr"] < 40 and 0 < r["ssim"] < 1 and r["niqe"] > saved["hr_niqe"] and r["mpx_per_s"] > 0
    # the test sets are fixed: the same LR in every run
    def degraded_set(preset, test_set="BSD100"):  # as real.main builds them
        return load_eval_set(config.benchmark_dir(test_set), real.SCALE, preset, seed=real.SEED, limit=1)

    a, b = degraded_set("real"), degraded_set("real")
    assert a[0][0] == b[0][0] and (a[0][1] == b[0][1]).all()
    guide = degraded_set("real", test_set="Set5")  # --set: a set that may guide training
    assert guide[0][0] != a[0][0] and guide[0][2].shape != a[0][2].shape
    assert "| bicubic |" in (tmp_path / "real.md").read_text() and report["results"]


def test_make_grid(tmp_path):
    from conftest import smooth_rgb

    photos = [Image.fromarray(smooth_rgb(40, 30, seed=i)) for i in range(2)]
    path = real.make_grid(photos, ["bicubic", "nearest"], tmp_path / "grid.png", crop=24)
    grid = Image.open(path)
    assert grid.size == (3 * 24 * 4, 2 * (24 * 4 + 16))  # input + 2 models, 2 rows with a label strip
