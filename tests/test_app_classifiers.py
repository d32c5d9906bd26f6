"""The app's classifier readouts with the shipped classifiers (not a fake): Compare on the cat example with the
cat/dog preset says "cat", for HR, bicubic and SR, with both classifier A and classifier B.

They are cheap at 128 px. ``tests/test_app_callbacks.py`` tests the readouts' wiring with a fake classifier.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from demo import callbacks, models

REPO = Path(__file__).resolve().parents[1]
CAT = REPO / "demo" / "examples" / "cat_4003.jpg"
DOG = REPO / "demo" / "examples" / "dog_4014.jpg"


@pytest.fixture()
def shipped(monkeypatch):
    for name in models.CLASSIFIERS:
        if not (REPO / "weights" / name / "model.safetensors").is_file():
            pytest.skip(f"weights/{name} not shipped in this checkout")
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(REPO / "weights"))
    monkeypatch.setenv("SR_DEVICE", "cpu")
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    models.get_classifier.cache_clear()  # another test may have cached a fake or a missing one
    yield
    models.get_classifier.cache_clear()


@pytest.mark.parametrize("photo,label", [(CAT, "cat"), (DOG, "dog")], ids=["cat", "dog"])
def test_compare_readouts_name_the_animal(shipped, photo, label):
    from sr_core.classifier import load_classifier, predict_proba

    lr, bicubic, sr, hr, readouts = callbacks.compare_images(str(photo), "srresnet", "catdog32")
    assert hr.size == (128, 128) and readouts["lr_size"] == [32, 32]
    other = "dog" if label == "cat" else "cat"
    for name in models.CLASSIFIERS:
        entry = readouts["classifiers"][name]
        assert entry["available"], entry
        for key in ("hr", "bicubic", "sr"):
            p = entry[key]
            assert p["cat"] + p["dog"] == pytest.approx(1, abs=2e-4), (name, key, p)
            assert p[label] > p[other], (name, key, p)
        assert entry["hr"][label] > 0.9, (name, entry["hr"])
        # the readout is the classifier's own answer on those images (rounded to 4 digits)
        probs = predict_proba(load_classifier(name), [hr, sr])
        assert entry["hr"]["cat"] == pytest.approx(probs[0, 0].item(), abs=1e-4)
        assert entry["sr"]["cat"] == pytest.approx(probs[1, 0].item(), abs=1e-4)
