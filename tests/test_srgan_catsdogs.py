"""``train/srgan_catsdogs.py``: the cat/dog SRGAN fine-tune on a tiny fake data set, then ``compare``."""

from __future__ import annotations

import json
from argparse import Namespace

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def fake_root(tmp_path):
    """``cats_dogs/{train,val}/{cat,dog}``: 5 / 2 textured JPEGs per class."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("val", 2)):
        for label in ("cat", "dog"):
            folder = tmp_path / "data" / "cats_dogs" / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (90 + 7 * i, 110, 3), dtype=np.uint8)
                Image.fromarray(arr).save(folder / f"{label}.{i}.jpg", quality=90)
    return tmp_path / "data"


def test_tiny_finetune_then_compare(fake_root, tmp_path, monkeypatch):
    from train import srgan_catsdogs
    from train.catsdogs import split_files

    monkeypatch.chdir(tmp_path)  # runs/ and the decode cache go here
    hr = tmp_path / "hr"
    srgan_catsdogs.train(["--tiny", "--no-progress", "--no-plot", "--max_iters=2", f"--data_root={fake_root}",
                          f"--hr_dir={hr}"])
    # the fitting split only (70 % of 5 per class), as 128 x 128 PNGs; the test split is never exported
    fit, _ = split_files(fake_root, "train")
    exported = sorted(p.name for p in (hr / "train").glob("*.png"))
    assert exported == sorted(f"{p.parent.name}_{p.stem}.png" for p in fit)
    assert 0 < len(fit) < 10 and all(Image.open(hr / "train" / n).size == (128, 128) for n in exported)
    run = tmp_path / "runs" / "srgan_catsdogs"
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert cfg["model"] == "srgan-catsdogs" and cfg["stage"] == "gan" and cfg["train_dirs"] == str(hr / "train")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows if r["kind"] == "val"] == [2] and (run / "weights").is_dir()

    report = srgan_catsdogs.compare(Namespace(candidate=str(run / "weights"), classifier="classifier-a",
                                              data_root=str(fake_root), out=str(tmp_path / "cmp")))
    assert set(report["results"]) == {"bicubic", "srgan", str(run / "weights")}
    for r in report["results"].values():
        assert 0 <= r["accuracy_classifier_a"] <= 1 and np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1
    assert (tmp_path / "cmp" / "compare.md").read_text().count("|") > 10
