"""The app's edge paths, as plain functions (no browser, no server): a model that fails to load, a full queue,
``SR_APP_TILE`` and ``SR_HUB_REPO`` (the Hub mocked: ``huggingface_hub.hf_hub_download`` patched)."""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import sr_core
from demo import callbacks, models


@pytest.fixture()
def app_env(tmp_path, monkeypatch):
    """An empty weights folder, no Hub, CPU; the app's model cache cleared before and after."""
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(weights))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    monkeypatch.delenv("SR_APP_TILE", raising=False)
    monkeypatch.delenv("SR_APP_MAX_PIXELS", raising=False)
    monkeypatch.setenv("SR_DEVICE", "cpu")
    monkeypatch.setitem(sys.modules, "sr_core.classifier", None)  # no classifiers: not what is tested here
    models.clear_caches()
    yield weights
    models.clear_caches()


def _tiny(folder: Path, name: str = "srresnet") -> None:
    import torch

    torch.manual_seed(0)
    sr_core.save_pretrained(sr_core.build_preset(name, num_features=8, num_blocks=1), folder / name, name=name)


def _photo(tmp_path: Path, w: int = 40, h: int = 40) -> str:
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_load_failure_is_a_clear_message(app_env, tmp_path):
    """Weights that exist but cannot be loaded (a corrupt file) give the app's message naming the model, on both
    tabs, not a traceback."""
    _tiny(app_env)
    (app_env / "srresnet" / "model.safetensors").write_bytes(b"not a safetensors file")
    for call in (lambda: callbacks.upscale_image(_photo(tmp_path), "srresnet"),
                 lambda: callbacks.compare_images(_photo(tmp_path, 64, 64), "srresnet", "standard")):
        with pytest.raises(gr.Error) as info:
            call()
        assert info.value.message.startswith("Could not load model 'srresnet':"), info.value.message


def test_a_full_queue_is_counted_as_such_not_as_an_error():
    """Gradio answers a request beyond ``max_size`` with a QueueError; the load test (and a client) sees
    "queue full", a retry-later answer, never a refusal of the input or a failure."""
    from gradio_client.utils import QueueError

    from benchmarks.app_load import classify_exception

    assert classify_exception(QueueError("Queue is full! Please try again."))[0] == "queue_full"
    assert classify_exception(RuntimeError("boom"))[0] == "error"
    # and the app is launched with a bounded queue (app.py)
    source = (Path(__file__).resolve().parents[1] / "app.py").read_text()
    assert "max_size=" in source and "default_concurrency_limit=1" in source


@pytest.mark.parametrize("tile,expected_tiles", [("0", 1), ("56", 4)])  # 72 px: 2 x 2 tiles of 56
def test_sr_app_tile_sets_the_upscale_tiles(app_env, tmp_path, monkeypatch, tile, expected_tiles):
    """``SR_APP_TILE`` is the Upscale tab's tile side (0: one piece); the output is the same either way."""
    _tiny(app_env)
    monkeypatch.setenv("SR_APP_TILE", tile)
    path, info = callbacks.upscale_image(_photo(tmp_path, 72, 72), "srresnet")
    assert info["tiles"] == expected_tiles, info
    assert Image.open(path).size == (288, 288)


def test_sr_app_tile_below_the_overlap_is_raised_to_a_working_size(app_env, tmp_path, monkeypatch):
    _tiny(app_env)
    monkeypatch.setenv("SR_APP_TILE", "8")  # narrower than twice the 16-px overlap: sr_core would refuse it
    path, info = callbacks.upscale_image(_photo(tmp_path, 72, 72), "srresnet")
    assert info["tiles"] > 1 and Image.open(path).size == (288, 288)


def test_sr_hub_repo_serves_models_from_the_hub(app_env, tmp_path, monkeypatch):
    """With no local weights and ``SR_HUB_REPO`` set, the app offers the learned models and loads one through
    ``huggingface_hub.hf_hub_download(repo, "<name>/<file>")`` (mocked: files from a local folder)."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    hub = tmp_path / "hub"
    _tiny(hub)
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        path = hub / filename
        if not path.is_file():
            raise FileNotFoundError(filename)
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert "srresnet" not in models.model_choices()  # nothing local, no Hub yet
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    assert "srresnet" in models.model_choices()
    path, info = callbacks.upscale_image(_photo(tmp_path), "srresnet")
    assert Image.open(path).size == (160, 160) and info["model"] == "srresnet"
    assert ("someone/sr-weights", "srresnet/model.safetensors") in calls
    assert ("someone/sr-weights", "srresnet/config.json") in calls
    # a model the Hub does not have: the load-failure message, not a crash
    with pytest.raises(gr.Error, match="Could not load model 'srgan'"):
        callbacks.upscale_image(_photo(tmp_path), "srgan")
