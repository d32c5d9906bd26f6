"""``studies/catsdogs/srgan.py``: the cat/dog SRGAN fine-tune on a tiny fake data set, then ``compare``."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


EXAMPLES = Path(__file__).resolve().parents[1] / "demo" / "examples"


@pytest.fixture()
def fake_root(tmp_path):
    """``cats_dogs/{train,val}/{cat,dog}``: 5 / 2 JPEGs per class, crops of the app's cat and dog example photos
    (so classifier A's accuracy on them is a real figure, not a coin flip on noise)."""
    for split, n in (("train", 5), ("val", 2)):
        for label in ("cat", "dog"):
            folder = tmp_path / "data" / "cats_dogs" / split / label
            folder.mkdir(parents=True)
            photo = Image.open(next(EXAMPLES.glob(f"{label}_*.jpg"))).convert("RGB")
            w, h = photo.size
            for i in range(n):
                d = 0.02 * i  # a slightly different crop each
                photo.crop((int(w * d), int(h * d), int(w * (1 - d / 2)), int(h * (1 - d / 2)))).save(
                    folder / f"{label}.{i}.jpg", quality=90)
    return tmp_path / "data"


def test_tiny_finetune_then_compare(fake_root, tmp_path, monkeypatch):
    from studies.catsdogs import srgan as srgan_catsdogs
    from studies.catsdogs.data import split_files

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
        assert np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1
    # the figures are what the shipped classifier A says about those upscales: recomputed here from PIL images
    # (sr_core.classifier.predict_proba's own resize path) for the bicubic row
    import hashlib

    import torch

    from sr_core.classifier import load_classifier, predict_proba
    from studies.catsdogs.data import load_split, upscaled

    val = load_split("val", fake_root, cache=False)
    bic = upscaled(val, "bicubic", cache=False)
    pil = [Image.fromarray(x.permute(1, 2, 0).numpy()) for x in bic]
    pred = predict_proba(load_classifier("classifier-a"), pil).argmax(1)
    expected = (pred == val.labels).double().mean().item()
    assert report["results"]["bicubic"]["accuracy_classifier_a"] == pytest.approx(expected, abs=1e-6)
    assert expected >= 0.75  # the example photos are clear cats and dogs, even from 32 x 32
    for r in report["results"].values():  # a fraction of the validation images, not just any number in [0, 1]
        k = r["accuracy_classifier_a"] * len(val)
        assert abs(k - round(k)) < 1e-4
    assert not torch.equal(bic, upscaled(val, "srgan", cache=False))  # the srgan row really ran srgan
    # the weights used are recorded with their sha256 (tests/test_reports.py checks committed reports)
    repo = Path(__file__).resolve().parents[1]
    sha = lambda name: hashlib.sha256((repo / "weights" / name / "model.safetensors").read_bytes()).hexdigest()  # noqa: E731
    assert report["results"]["srgan"]["weights_sha256"] == sha("srgan")
    assert report["classifier_weights"]["weights_sha256"] == sha("classifier-a")
    assert report["results"][str(run / "weights")]["weights_sha256"]
    assert (tmp_path / "cmp" / "compare.md").read_text().count("|") > 10
