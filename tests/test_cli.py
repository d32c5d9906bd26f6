"""The command line: ``python -m sr_core {models,upscale,evaluate}``.

One run goes through a new interpreter (``python -m sr_core`` in the repository root): an upscale of
a folder with a checkpoint folder as the model. The other cases call the same ``main`` in this
process (the ``cli`` fixture, which reports an escaping exception as a traceback and exit 1, as the
interpreter would), because each new interpreter spends ~25 s importing torch on the busy machine
the suite runs on (`SR_TEST_SUBPROCESS=1` runs them all as subprocesses).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import _tiny_srresnet, smooth_rgb
from sr_core import load_model, save_pretrained, upscale
from sr_core.nets import PRESETS


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory, start_cli):
    """Start the ``python -m sr_core`` run; the test that checks it waits for it."""
    root = tmp_path_factory.mktemp("cli")
    inputs = root / "photos"
    (inputs / "day 1").mkdir(parents=True)
    Image.fromarray(smooth_rgb(15, 11, seed=1)).save(inputs / "beach.png")
    Image.fromarray(smooth_rgb(9, 13, seed=2)).save(inputs / "day 1" / "dinner.png")
    ckpt = save_pretrained(_tiny_srresnet(tail_gain=1.0), root / "checkpoints" / "tiny_srresnet")
    runs = {"inputs": inputs, "ckpt": ckpt, "out": root / "out"}
    runs["upscale"] = start_cli("upscale", inputs, "-o", runs["out"], "--model", ckpt, "--no-progress")
    return runs


def _no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


# --- models -------------------------------------------------------------------------------------

def test_models_lists_every_name(cli):
    result = cli("models")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert listed == set(PRESETS)
    for name in ("bicubic", "lanczos", "nearest"):
        assert any(line.startswith(name) and line.rstrip().endswith("built-in") for line in result.stdout.splitlines())


# --- upscale ------------------------------------------------------------------------------------

def test_upscale_one_file_to_a_file_name(cli, tmp_path, bicubic):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_rgb(21, 14)).save(src)
    for name in ("result.png", "result.webp"):
        dst = tmp_path / "outputs" / name
        result = cli("upscale", src, "-o", dst, "--model", "bicubic", "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        _no_traceback(result)
        assert dst.is_file()
        with Image.open(dst) as im:
            assert im.size == (84, 56)
            if name.endswith(".png"):
                assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, src)))
    assert not list(tmp_path.rglob("*.part"))


def test_upscale_folder_to_folder(cli, tmp_path, bicubic):
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    Image.fromarray(smooth_rgb(10, 8, seed=1)).save(inputs / "a.png")
    Image.fromarray(smooth_rgb(7, 9, seed=2)).save(inputs / "nested" / "b.jpg")
    (inputs / "readme.txt").write_text("not an image, and not picked up as one")
    out = tmp_path / "out"
    result = cli("upscale", inputs, "-o", out, "--model", "bicubic", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote 2 image(s)" in result.stdout
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a_bicubic_x4.png", "nested/b_bicubic_x4.png"]
    with Image.open(out / "nested" / "b_bicubic_x4.png") as im:
        assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, inputs / "nested" / "b.jpg")))


def test_upscale_with_a_checkpoint_folder(subprocess_runs):
    """``python -m sr_core upscale <folder> --model <checkpoint folder>``: outputs named after the checkpoint."""
    result = subprocess_runs["upscale"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)
    out, inputs = subprocess_runs["out"], subprocess_runs["inputs"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["beach_tiny_srresnet_x4.png", "day 1/dinner_tiny_srresnet_x4.png"]
    model = load_model(subprocess_runs["ckpt"])
    for name, src in zip(files, ["beach.png", "day 1/dinner.png"]):
        with Image.open(out / name) as im:
            expected = np.asarray(upscale(model, inputs / src)).astype(int)
            assert np.abs(np.asarray(im).astype(int) - expected).max() <= 1


def test_upscale_one_file_with_a_checkpoint(cli, tmp_path, subprocess_runs):
    src = subprocess_runs["inputs"] / "beach.png"
    for model in (subprocess_runs["ckpt"], subprocess_runs["ckpt"] / "model.safetensors"):
        dst = tmp_path / "beach_x4.png"
        result = cli("upscale", src, "-o", dst, "--model", model, "--overwrite")
        assert result.returncode == 0, result.stdout + result.stderr
        with Image.open(dst) as im:
            assert np.array_equal(np.asarray(im), np.asarray(upscale(load_model(subprocess_runs["ckpt"]), src)))


# --- evaluate -----------------------------------------------------------------------------------

def test_evaluate_set5_bicubic(cli, set5_dir, tmp_path):
    result = cli("evaluate", "--model", "bicubic", "--hr-dir", set5_dir, "--json", tmp_path / "set5.json")
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)
    report = json.loads((tmp_path / "set5.json").read_text())
    assert report["scale"] == 4 and report["model"] == "bicubic" and len(report["images"]) == 5
    assert report["mean"]["model_psnr"] == pytest.approx(28.43, abs=0.01)
    assert report["mean"]["bicubic_psnr"] == pytest.approx(28.43, abs=0.01)
    assert report["mean"]["model_ssim"] == pytest.approx(0.811, abs=0.001)
    mean_line = [line for line in result.stdout.splitlines() if line.startswith("mean")]
    assert len(mean_line) == 1 and "28.43" in mean_line[0]


def test_evaluate_missing_folder(cli, tmp_path):
    result = cli("evaluate", "--model", "bicubic", "--hr-dir", tmp_path / "nothing here")
    assert result.returncode == 2
    _no_traceback(result)
    assert result.stderr.startswith("error: ") and "nothing here" in result.stderr


# --- errors -------------------------------------------------------------------------------------

def _one_line_error(result, *words):
    _no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unknown_model(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "no-such-model")
    assert result.returncode == 2
    _one_line_error(result, "no-such-model", "looked in")
    assert not (tmp_path / "b.png").exists()


def test_preset_without_weights(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "no weights"))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "srresnet")
    assert result.returncode == 2
    _one_line_error(result, "srresnet", str(tmp_path / "no weights"))


def test_scale_mismatch(cli, tmp_path):
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "bicubic", "--scale", "2")
    assert result.returncode == 2
    _one_line_error(result, "4x", "2x")


def test_missing_input_file(cli, tmp_path):
    result = cli("upscale", tmp_path / "missing.png", "-o", tmp_path / "b.png", "--model", "bicubic")
    assert result.returncode == 1
    _no_traceback(result)
    assert any(line.startswith("error: ") and "missing.png" in line and "no such file" in line
               for line in result.stdout.splitlines())


def test_usage_errors(cli):
    for argv in (["upscale", "x.png"], ["frobnicate"], []):
        result = cli(*argv)
        assert result.returncode == 2
        _no_traceback(result)
