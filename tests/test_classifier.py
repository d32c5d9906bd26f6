"""Cat/dog classifier: library API, weights I/O, metrics, the training script, the CLI and the report.

Everything runs on a tiny fake data set (flat-coloured JPEGs) and tiny or randomly initialised
backbones, so no pretrained weights and no real photos are needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from sr_core.classifier import LABELS, Classifier, load_classifier, predict_proba, prepare_image, save_classifier
from studies.catsdogs.stats import classification_metrics, mcnemar_p, roc_auc

REPO = Path(__file__).resolve().parents[1]


def tiny_network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def tiny_classifier(input_size: int = 32) -> Classifier:
    return Classifier("tiny", network=tiny_network(), num_features=8, input_size=input_size)


def some_images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    return [rgb, rgb.convert("L"), rgb.convert("RGBA"), rgb.convert("P"), rgb.resize((7, 300))]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    """``cats_dogs/{train,val}/{cat,dog}`` with 6 / 3 small JPEGs per class (cats reddish, dogs bluish)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 3)):
        for label, colour in (("cat", (200, 80, 40)), ("dog", (40, 80, 200))):
            folder = root / "cats_dogs" / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                arr = np.clip(np.array(colour) + rng.normal(0, 30, (50 + 7 * i, 60, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(folder / f"{label}.{i}.jpg")
    return root


@pytest.fixture(scope="module")
def trained(fake_root, tmp_path_factory) -> dict:
    """Classifier A from ``python -m studies.catsdogs.classifier --tiny`` (a subprocess), B in-process with
    bicubic SR."""
    out = tmp_path_factory.mktemp("runs")
    proc = run_cli("-m", "studies.catsdogs.classifier", "--tiny", f"--data_root={fake_root}", f"--out_dir={out / 'a'}")
    assert proc.returncode == 0, proc.stderr
    from studies.catsdogs.classifier import main

    metrics_b = main(["--tiny", "--variant=b", "--sr_model=bicubic", f"--data_root={fake_root}",
                      f"--out_dir={out / 'b'}"])
    return {"a": out / "a", "b": out / "b", "stdout_a": proc.stdout, "metrics_b": metrics_b}


# ----------------------------------------------------------------------------- library

def test_forward_and_predict_proba():
    model = tiny_classifier()
    assert model(torch.rand(3, 3, 50, 40)).shape == (3, 2)  # any size is resized to input_size
    model.train()
    probs = predict_proba(model, some_images())
    assert probs.shape == (5, 2)
    assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-6)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert model.training  # predict_proba restores the mode it found
    assert predict_proba(model, torch.rand(2, 3, 32, 32)).shape == (2, 2)
    assert predict_proba(model, []).shape == (0, 2)
    assert LABELS == ("cat", "dog")


def test_prepare_image_modes():
    for img in some_images() + [Image.new("I;16", (20, 30), 30000)]:
        out = prepare_image(img, 128)
        assert out.mode == "RGB" and out.size == (128, 128)


def test_set_trainable_freezes_backbone():
    model = tiny_classifier()
    head = model.set_trainable("head")
    assert {id(p) for p in head} == {id(p) for p in model.head.parameters()}
    assert len(model.set_trainable("all")) == len(list(model.parameters()))


def test_efficientnet_tail_and_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = Classifier("efficientnet_lite0", pretrained=False, input_size=32).eval()
    assert len(model.set_trainable("tail")) < len(list(model.parameters()))
    x = torch.rand(2, 3, 32, 32)
    save_classifier(model, tmp_path / "clf", seed=3, metrics={"val_hr": {"accuracy": 0.5}})
    cfg = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert cfg["arch"] == "classifier" and cfg["labels"] == ["cat", "dog"] and cfg["input_size"] == 32
    assert cfg["dtype"] == "float16" and cfg["seed"] == 3
    loaded = load_classifier(tmp_path / "clf")
    assert not loaded.training
    assert torch.allclose(predict_proba(loaded, x), predict_proba(model, x), atol=2e-2)
    loaded = load_classifier(tmp_path / "clf" / "model.safetensors")  # a file path works too
    assert loaded.config["hparams"]["backbone"] == "efficientnet_lite0"


def test_injected_network_roundtrip(tmp_path):
    model = tiny_classifier().eval()
    save_classifier(model, tmp_path / "tiny", half=False)
    loaded = load_classifier(tmp_path / "tiny", network=tiny_network())
    x = torch.rand(4, 3, 32, 32)
    assert torch.allclose(predict_proba(loaded, x), predict_proba(model, x), atol=1e-6)


def test_missing_weights_say_where_they_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="looked in"):
        load_classifier("classifier-b")


def test_vgg16_offline_error_names_the_alternative(monkeypatch):
    import torchvision

    from sr_core.losses import WeightsUnavailableError

    def offline(weights=None):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.models, "vgg16", offline)
    with pytest.raises(WeightsUnavailableError, match="efficientnet_lite0"):
        Classifier("vgg16")


def test_metrics():
    labels = torch.tensor([0, 0, 1, 1])
    assert roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert roc_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert roc_auc(torch.tensor([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert roc_auc(torch.tensor([0.1, 0.6, 0.4, 0.9]), labels) == 0.75
    probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    m = classification_metrics(probs, labels)
    assert m["confusion"] == [[1, 1], [0, 2]]
    assert m["accuracy"] == 0.75 and m["f1"] == pytest.approx(0.8) and m["roc_auc"] == 1.0
    assert m["accuracy_ci95"][0] < 0.75 < m["accuracy_ci95"][1]
    a = torch.tensor([True] * 10 + [False] * 10)
    assert mcnemar_p(a, a) == 1.0
    assert mcnemar_p(torch.ones(20, dtype=torch.bool), a) == pytest.approx(2 / 2 ** 10)


# ----------------------------------------------------------------------------- scripts

def test_train_tiny(trained):
    run_a, run_b = trained["a"], trained["b"]
    for run in (run_a, run_b):
        assert (run / "weights" / "model.safetensors").is_file() and (run / "curves.png").is_file()
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert {r["kind"] for r in rows} == {"head", "finetune", "final"}
    cfg_b = json.loads((run_b / "weights" / "config.json").read_text())
    assert cfg_b["variant"] == "b" and cfg_b["sr_model"]["sr_model"] == "bicubic"
    assert cfg_b["training_data"]["n_train"] == 2 * 6  # HR + SR of 3 cats and 3 dogs (--tiny: limit=3)
    assert set(trained["metrics_b"]) == {"val_hr", "val_sr", "val_all"}
    assert "exported" not in trained["stdout_a"]  # --tiny never writes weights/


def test_classify_cli(trained, fake_root, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    cat = fake_root / "cats_dogs" / "val" / "cat" / "cat.0.jpg"
    dogs = fake_root / "cats_dogs" / "val" / "dog"
    proc = run_cli("-m", "sr_core", "classify", str(cat), str(dogs), str(bad), "--model",
                   str(trained["a"] / "weights"), "--json")
    assert proc.returncode == 1  # one input failed, the others were classified
    rows = json.loads(proc.stdout)
    assert [Path(r["path"]).name for r in rows] == ["cat.0.jpg", "dog.0.jpg", "dog.1.jpg", "dog.2.jpg"]
    for r in rows:
        assert r["label"] in ("cat", "dog") and abs(r["p_cat"] + r["p_dog"] - 1) < 1e-4
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0]

    from sr_core.cli import main  # the same command in-process (saves an interpreter start-up)

    capsys.readouterr()
    assert main(["classify", str(dogs), "--model", str(trained["a"] / "weights")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith(("cat ", "dog ")) and "p_dog=" in line for line in out)
    assert main(["classify", str(cat), "--model", str(tmp_path / "nothing")]) == 2
    assert "looked in" in capsys.readouterr().err


def test_report_tiny(trained, fake_root, tmp_path):
    from studies.catsdogs.report import main

    out = tmp_path / "report"
    report = main(["--tiny", f"--data_root={fake_root}", f"--classifier_a={trained['a'] / 'weights'}",
                   f"--classifier_b={tmp_path / 'no-b'}", "--sr_model=bicubic", f"--out={out}",
                   f"--snapshot_dir={tmp_path / 'snap'}"])
    assert report["classifiers"] == ["A"] and "B" in report["missing"]
    assert set(report["results"]["A"]) == {"hr", "bicubic", "sr"}
    assert report["results"]["A"]["hr"]["n"] == 6
    md = (out / "report.md").read_text()
    assert "Classifier B is not available" in md and "| A | sr |" in md
    for name in ("report.json", "metrics.png", "confusion.png", "examples.png", "curves_classifier-a.png"):
        assert (out / name).is_file(), name


def test_report_with_both_and_learned_sr(trained, fake_root, tmp_path):
    from sr_core import save_pretrained
    from sr_core.nets import build_preset
    from studies.catsdogs.report import main

    save_pretrained(build_preset("srcnn", num_features=4, mid_features=4), tmp_path / "srcnn", name="srcnn")
    report = main(["--tiny", f"--data_root={fake_root}", f"--classifier_a={trained['a'] / 'weights'}",
                   f"--classifier_b={trained['b'] / 'weights'}", f"--sr_model={tmp_path / 'srcnn'}",
                   f"--out={tmp_path / 'report'}", f"--snapshot_dir={tmp_path / 'snap'}"])
    assert report["classifiers"] == ["A", "B"] and report["sr"]["sr_weights_sha256"]
    assert any("B vs A" in t["what"] for t in report["mcnemar"])
    assert report["warnings"]  # B was trained with bicubic "SR", the report uses srcnn


def test_realism_tiny(fake_root, tmp_path):
    from studies.realism import main

    report = main(["--tiny", f"--data_root={fake_root}", "--generators=bicubic,srgan", f"--out={tmp_path}",
                   f"--snapshot_dir={tmp_path / 'snap'}"])
    # the CNN trains on cats_dogs/train (its validation part) and is tested on cats_dogs/val (tiny: 4 per class);
    # that it really separates real from generated is tests/test_realism.py's separable-pair test
    from studies.catsdogs.data import split_files

    bicubic = report["results"]["bicubic"]
    assert bicubic["n_train"] == len(split_files(fake_root, "val", limit=4)[0])
    assert bicubic["n_test"] == len(split_files(fake_root, "test", limit=4)[0])
    assert "skipped" in report["results"]["srgan"] or "accuracy" in report["results"]["srgan"]
    assert (tmp_path / "realism.md").is_file() and (tmp_path / "realism.png").is_file()
