"""The app's model lists: a few words per model, and the Compare tab's default is the best Set5 PSNR on the cards."""

from __future__ import annotations

import json

from demo import models, ui


def _card(root, name, psnr):
    (root / name).mkdir(parents=True)
    (root / name / "config.json").write_text(json.dumps({"arch": "srresnet", "hparams": {},
                                                         "metrics": {"Set5": {"psnr": psnr}}}))


def test_best_psnr_model_reads_the_cards(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    _card(tmp_path, "srresnet", 31.41)
    _card(tmp_path, "fast", 31.62)
    _card(tmp_path, "srgan", 29.24)
    assert models.best_psnr_model(["srgan", "srresnet", "fast", "bicubic"]) == "fast"
    assert models.best_psnr_model(["srgan", "srresnet", "bicubic"]) == "srresnet"
    # no card with a figure: the first offered model
    assert models.best_psnr_model(["bicubic", "nearest"]) == "bicubic"


def test_choices_say_what_each_model_is_for():
    pairs = ui.labelled(["fast", "srresnet", "my-own-model"])
    assert [v for _, v in pairs] == ["fast", "srresnet", "my-own-model"]
    assert pairs[0][0].startswith("fast: ") and "CPU" in pairs[0][0]
    assert pairs[2][0] == "my-own-model"  # no description: just the name
    assert all(models.describe(n).startswith(n) for n in models.DESCRIPTIONS)
