"""``studies.realism`` tells a trivially separable pair apart, and trains on cats_dogs/train, tests on cats_dogs/val.

The fake photos are per-pixel noise: their bicubic x4 upscale from 32 x 32 is smooth, so a CNN that learns
anything separates real from generated; a check that cannot (a broken split, labels or training loop) fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def noise_root(tmp_path_factory):
    """``cats_dogs/train`` 20 and ``cats_dogs/val`` 10 noise photos per class (the folders differ in size, so
    which one trained and which one tested shows in the counts)."""
    root = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("val", 10)):
        for label in ("cat", "dog"):
            folder = root / "cats_dogs" / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(folder / f"{label}.{i}.png")
    return root


def test_realism_separates_noise_photos_from_their_bicubic_upscales(noise_root, tmp_path):
    from studies.catsdogs.data import split_files
    from studies.realism import main

    report = main([f"--data_root={noise_root}", "--generators=bicubic", f"--out={tmp_path}", "--epochs=40",
                   "--width=8", "--crop=64", "--batch_size=4", "--no-cache", f"--snapshot_dir={tmp_path / 's'}"])
    r = report["results"]["bicubic"]
    # trained on the 30 % validation part of cats_dogs/train (6 + 6 photos), tested on all of cats_dogs/val
    assert r["n_train"] == len(split_files(noise_root, "val")[0]) == 12
    assert r["n_test"] == len(split_files(noise_root, "test")[0]) == 20
    assert "cats_dogs/train" in report["photos"] and "cats_dogs/val" in report["photos"]
    assert r["accuracy"] >= 0.9 and r["roc_auc"] >= 0.95, r
    assert r["real_called_real"] >= 0.9 and r["generated_called_real"] <= 0.1, r


def test_realism_train_split_option(noise_root, tmp_path):
    from studies.realism import main

    report = main([f"--data_root={noise_root}", "--generators=bicubic", f"--out={tmp_path}", "--epochs=1",
                   "--width=4", "--crop=32", "--no-cache", "--train_split=train", f"--snapshot_dir={tmp_path / 's'}"])
    assert report["results"]["bicubic"]["n_train"] == 28  # the 70 % fitting part: 14 + 14
    with pytest.raises(SystemExit, match="train_split"):
        main([f"--data_root={noise_root}", "--generators=bicubic", f"--out={tmp_path}", "--train_split=test"])
