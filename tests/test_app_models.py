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
    """The lists hold bare names (a long label was cut off in the narrow column); the line under each list
    says what the chosen model is for."""
    demo = ui.build_ui(list_models=lambda: ["fast", "srresnet", "bicubic"])
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "upscale-model")
    assert [v for _, v in dropdown.choices] == [n for n, _ in dropdown.choices] == ["fast", "srresnet", "bicubic"]
    assert "CPU" in ui.model_info("fast") and ui.model_info("my-own-model") == "your own model"
    assert dropdown.info == ui.model_info(dropdown.value)
    assert all(models.describe(n).startswith(n) for n in models.DESCRIPTIONS)


def test_compare_default_follows_the_preset(tmp_path, monkeypatch):
    """"realistic": the real-photo default (real, at sr_core.detail.DEFAULT_DETAIL); the bicubic presets: the
    best clean model by its card."""
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    _card(tmp_path, "srresnet", 31.41)
    _card(tmp_path, "real", 26.46)
    choices = ["real", "srresnet", "bicubic"]
    assert models.compare_default("realistic", choices) == "real"
    assert models.compare_default("standard", choices) == "srresnet"
    assert models.compare_default("catdog32", choices) == "srresnet"
    assert models.compare_default("realistic", ["srresnet", "bicubic"]) == "srresnet"  # no real: the first
    demo = ui.build_ui(list_models=lambda: choices)
    preset = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "compare-preset")
    change = next(fn for fn in demo.fns.values() if any(t[0] == preset._id and t[1] == "change" for t in fn.targets))
    assert change.fn("realistic").value == "real" and change.fn("standard").value == "srresnet"
