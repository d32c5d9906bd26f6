"""The detail control of ``real`` (``sr_core.detail``): its output mixed with ``real-psnr``'s, cached per value,
in the library, the CLI and the app; and the weight interpolation kept for comparisons."""

from __future__ import annotations

import math

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_rgb

import sr_core
from sr_core import checkpoint, detail
from sr_core.nets import build_preset
from sr_core.nets.blend import DetailBlend


def _tiny(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_preset("real", num_features=8, num_blocks=1)
    for p in model.parameters():  # the tail starts near zero: move every weight so the two nets differ
        p.data.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """A weights folder holding tiny ``real-psnr`` and ``real`` networks."""
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    sr_core.save_pretrained(_tiny(0), tmp_path / "real-psnr", name="real-psnr")
    sr_core.save_pretrained(_tiny(1), tmp_path / "real", name="real")
    checkpoint.clear_blend_cache()
    yield tmp_path
    checkpoint.clear_blend_cache()


def _run(model, x):
    with torch.no_grad():
        return model(x)


def test_the_loaded_blend_mixes_the_two_outputs_and_its_ends_are_the_networks(weights):
    x = torch.rand(1, 3, 12, 10)
    smooth, textured = sr_core.load_model("real-psnr"), sr_core.load_model("real")
    a, b = _run(smooth, x), _run(textured, x)
    mid = sr_core.load_model("real", detail=0.25)
    assert isinstance(mid, DetailBlend) and mid.config["detail_pair"] == ["real-psnr", "real"]
    assert torch.allclose(_run(mid, x), 0.75 * a + 0.25 * b, atol=1e-6)
    assert not torch.allclose(a, b, atol=1e-3)  # the two tiny networks differ, so the check above has teeth
    zero = sr_core.load_model("real", detail=0.0)
    assert not isinstance(zero, DetailBlend) and torch.allclose(_run(zero, x), a) and zero.config["detail"] == 0.0
    assert torch.allclose(_run(sr_core.load_model("real", detail=1.0), x), b)
    with pytest.raises(ValueError, match="between 0 and 1"):
        DetailBlend(smooth, textured, 1.5)


def test_a_blend_prepared_for_inference_computes_the_same(weights):
    """``upscale_tensor``'s inference copy (merged branches, fused) of a blend gives the blend's output."""
    from sr_core.optimize import prepare_for_inference

    mid = sr_core.load_model("real", detail=0.6)
    x = torch.rand(1, 3, 14, 9)
    fast = prepare_for_inference(mid)
    assert fast.smooth.is_reparameterized and fast.textured.is_reparameterized and not mid.smooth.is_reparameterized
    assert torch.allclose(_run(fast, x), _run(mid, x), atol=1e-5)


def test_ends_are_the_two_networks_and_the_middle_is_the_average_of_merged_weights():
    smooth, textured = _tiny(0), _tiny(1)
    x = torch.rand(1, 3, 12, 10)
    assert torch.allclose(_run(detail.interpolate(smooth, textured, 0.0), x), _run(smooth, x), atol=1e-5)
    assert torch.allclose(_run(detail.interpolate(smooth, textured, 1.0), x), _run(textured, x), atol=1e-5)
    mid = detail.interpolate(smooth, textured, 0.25)
    a, b = detail._merged(smooth).state_dict(), detail._merged(textured).state_dict()
    for k, v in mid.state_dict().items():
        assert torch.allclose(v, 0.75 * a[k] + 0.25 * b[k], atol=1e-6), k
    out = _run(mid, x)
    assert not torch.allclose(out, _run(smooth, x), atol=1e-3) and not torch.allclose(out, _run(textured, x),
                                                                                         atol=1e-3)
    assert mid.is_reparameterized and mid.config["detail"] == 0.25


def test_different_architectures_are_refused():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="different architectures"):
        detail.interpolate(_tiny(0), build_preset("real", num_features=16, num_blocks=1), 0.5)


@pytest.mark.parametrize("name, value, message", [
    ("srresnet", 0.5, "detail works with real only"),
    ("real", 1.5, "between 0"),
    ("real", -0.1, "between 0"),
    ("real", math.nan, "between 0"),
    ("real", "lots", "a number"),
])
def test_bad_values_are_refused_with_a_reason(name, value, message):
    with pytest.raises(ValueError, match=message):
        detail.check_detail(name, value)


def test_values_are_rounded_to_the_slider_grid():
    assert detail.check_detail("real", 0.51) == 0.5
    assert detail.check_detail("real", 0.53) == 0.55
    assert detail.check_detail("real", 1) == 1.0


def test_each_value_is_built_once(weights):
    a = sr_core.load_model("real", detail=0.5)
    assert sr_core.load_model("real", detail=0.51) is a  # the same grid value: the cached network
    assert sr_core.load_model("real", detail=0.3) is not a
    assert checkpoint.blend_cache_info().misses == 2
    full = sr_core.load_model("real", detail=1.0)
    assert full.config["name"] == "real" and not full.is_reparameterized  # the shipped network itself
    assert not isinstance(full, DetailBlend)


def test_a_name_at_a_detail_is_the_same_blend(weights):
    """``real@0.3`` is ``load_model("real", detail=0.3)``: the one resolver, one cached network."""
    assert sr_core.load_model("real@0.3") is sr_core.load_model("real", detail=0.3)
    assert sr_core.load_model("real@0.3").config["detail"] == pytest.approx(0.3)
    assert sr_core.load_model("real").config.get("detail") is None  # the bare name: the file itself
    with pytest.raises(ValueError, match="detail works with real only"):
        sr_core.load_model("real-psnr@0.3")
    assert detail.split_name("real@0.3") == ("real", 0.3)
    assert detail.split_name("dir/real@0.3") == ("dir/real@0.3", None)
    assert detail.split_name("a@b.pth") == ("a@b.pth", None)
    assert detail.detail_for("real", None) == detail.DEFAULT_DETAIL and detail.detail_for("srgan", None) is None


def test_tiled_upscale_uses_one_network_for_every_tile(weights, monkeypatch):
    """A blend is built once per value, never per tile: count the DetailBlends made."""
    calls = []
    monkeypatch.setattr(checkpoint, "DetailBlend", lambda *a: calls.append(1) or DetailBlend(*a))
    img = Image.fromarray(smooth_rgb(70, 60))
    model = sr_core.load_model("real", detail=0.4)
    tiles = []
    sr_core.upscale(model, img, tile=40, tile_overlap=8, progress=lambda d, t: tiles.append(t))
    sr_core.upscale(sr_core.load_model("real", detail=0.4), img, tile=40, tile_overlap=8)
    assert tiles[-1] > 1 and len(calls) == 1


def test_cli_detail(cli, weights, tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(smooth_rgb(20, 16)).save(src)
    result = cli("upscale", src, "--model", "real", "--detail", "0.3", "--no-progress")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "photo_real-detail0.30_x4.png"
    assert Image.open(out).size == (80, 64)
    expected = sr_core.upscale(sr_core.load_model("real", detail=0.3), Image.open(src), dtype="auto")  # the CLI's precision
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))
    bad = cli("upscale", src, "--model", "srresnet", "--detail", "0.3")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "detail works with real only" in bad.stderr
    bad = cli("upscale", src, "--model", "real", "--detail", "2")
    assert bad.returncode == 2 and "between 0" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_default_model_is_real(cli, weights, tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(smooth_rgb(12, 10)).save(src)
    result = cli("upscale", src, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "photo_real_x4.png").is_file()


def test_app_default_and_detail(weights, monkeypatch):
    from demo import callbacks, models

    monkeypatch.setenv("SR_DEVICE", "cpu")
    models.clear_caches()
    assert models.default_model() == "real"
    img = Image.fromarray(smooth_rgb(16, 12))
    path, info = callbacks.upscale_image(img, None)  # /upscale without a model: the default
    assert info["model"] == "real" and info["detail"] == detail.DEFAULT_DETAIL
    path, info = callbacks.upscale_image(img, "real", detail=0.2)
    assert info["detail"] == 0.2 and "detail0.20" in path
    assert callbacks.upscale_summary(info).startswith("**real** (detail 0.2) ×4")
    expected = sr_core.upscale(sr_core.load_model("real", detail=0.2), img, dtype="auto")  # the app's precision
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(expected))
    with pytest.raises(gr.Error, match="between 0"):
        callbacks.upscale_image(img, "real", detail=3)
    _, info = callbacks.upscale_image(img, "bicubic", detail=0.2)  # other models have no detail control
    assert "detail" not in info and "detail" not in callbacks.upscale_summary(info)
    models.clear_caches()


def test_compare_realistic_preset_is_the_pipeline_with_a_fixed_seed(weights):
    from demo import callbacks

    from sr_core.degradations import degrade_real

    img = Image.fromarray(smooth_rgb(64, 48))
    hr, lr = callbacks.make_pair(img, "realistic", 4)
    hr2, lr2 = callbacks.make_pair(img, "realistic", 4)
    assert np.array_equal(np.asarray(lr), np.asarray(lr2)) and lr.size == (16, 12)
    expected = degrade_real(hr, 4, "real", seed=callbacks.REALISTIC_SEED, index=0)
    assert np.array_equal(np.asarray(lr), np.asarray(expected))
    _, bicubic_lr = callbacks.make_pair(img, "standard", 4)
    assert not np.array_equal(np.asarray(lr), np.asarray(bicubic_lr))
    out = callbacks.compare_images(img, "real", "realistic")
    assert out[4]["preset"] == "realistic" and out[2].size == hr.size


def test_the_blend_cache_follows_the_weights_folder(tmp_path, monkeypatch):
    """A blend is cached per value and per weights folder: after ``SR_WEIGHTS_DIR`` changes in one process (the
    test suite, an app pointed elsewhere) ``real@0.3`` is built from the new folder's weights, not the old."""
    from sr_core import load_model, save_pretrained
    from sr_core.nets import build_preset

    shipped = load_model("real@0.3")
    for i, name in enumerate(("real-psnr", "real")):
        torch.manual_seed(i)
        save_pretrained(build_preset(name, num_features=8, num_blocks=1), tmp_path / name, name=name)
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    tiny = load_model("real@0.3")
    assert sum(p.numel() for p in tiny.parameters()) < sum(p.numel() for p in shipped.parameters())
    monkeypatch.delenv("SR_WEIGHTS_DIR")
    assert load_model("real@0.3") is shipped
