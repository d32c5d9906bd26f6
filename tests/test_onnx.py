"""ONNX export: ONNX Runtime reproduces PyTorch (within 1e-3) at sizes other than the traced one; the shipped
graphs (the light install's) match their torch models on a real photo and their safetensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_rgb

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")

from sr_core.export import export_onnx  # noqa: E402
from sr_core.nets import build_preset  # noqa: E402

SIZES = [(24, 32), (41, 17)]  # (height, width); the export traces 32 x 32


def _tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(smooth_rgb(width, height, seed)).permute(2, 0, 1)[None].float() / 255


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=["srresnet", "swift-srgan"])
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    model = build_preset(request.param).eval()  # random weights: the graph is what is tested
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx")
    return request.param, model, _session(path)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_onnxruntime_matches_pytorch(exported, size):
    name, model, session = exported
    x = _tensor(size[1], size[0])
    with torch.inference_mode():
        ref = model(x).numpy()  # the plain network, not the optimised copy that was exported
    (out,) = session.run(None, {"lr": x.numpy()})
    assert out.shape == (1, 3, size[0] * 4, size[1] * 4)
    assert np.abs(out - ref).max() <= 1e-3, name


def test_dynamic_batch(exported):
    _, model, session = exported
    x = torch.cat([_tensor(20, 12, 0), _tensor(20, 12, 1)])
    with torch.inference_mode():
        ref = model(x).numpy()
    (out,) = session.run(None, {"lr": x.numpy()})
    assert out.shape == ref.shape and np.abs(out - ref).max() <= 1e-3


def test_cli_export_onnx(run_cli, tmp_path):
    out = tmp_path / "srcnn.onnx"
    proc = run_cli("export-onnx", "--model", "srcnn", "-o", out, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "wrote" in proc.stdout
    (sr,) = _session(out).run(None, {"lr": np.random.default_rng(0).random((1, 3, 9, 14), np.float32)})
    assert sr.shape == (1, 3, 36, 56)


def test_cli_refuses_classical_models(run_cli, tmp_path):
    proc = run_cli("export-onnx", "--model", "bicubic", "-o", tmp_path / "b.onnx")
    assert proc.returncode == 2 and "not a network" in proc.stderr


# --- the shipped graphs (weights/<name>/model.onnx, python -m sr_core.export --all) ---------------------------

from sr_core import config  # noqa: E402
from sr_core.backends import OnnxBlend, load_onnx, read_initializers  # noqa: E402
from sr_core.export import GRAPH_FILE, export_shipped, shipped_models  # noqa: E402
from sr_core.io import to_array  # noqa: E402
from sr_core.tiling import upscale_array  # noqa: E402

SHIPPED = ["srresnet", "srgan", "swift-srgan", "srgan-catsdogs", "srcnn", "fast", "real-psnr", "real"]
MAX_DIFF, MEAN_DIFF = 2 / 255, 0.2 / 255  # issue 28's tolerance against the torch model on a real photo


@pytest.fixture(scope="module")
def crop(set5_dir):
    """A 48 x 40 crop of a real photo (Set5 baby) as float32 (1, 3, H, W)."""
    return to_array(Image.open(set5_dir / "baby.png").convert("RGB").crop((200, 180, 248, 220)))


def _torch_out(model, x, **tiling):
    from sr_core.inference import upscale_tensor

    return upscale_tensor(model, torch.from_numpy(x), **(tiling or {"tile": 0})).numpy()  # float32, as the graph


def test_every_shipped_model_has_its_graph():
    assert shipped_models() == SHIPPED
    for name in SHIPPED:
        assert (config.weights_dir() / name / GRAPH_FILE).is_file(), f"python -m sr_core.export {name}"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_graph_matches_the_torch_model_on_a_photo(name, crop):
    from sr_core import load_model

    ref = _torch_out(load_model(name), crop)
    out = upscale_array(load_onnx(name, detail=1.0 if name == "real" else None, threads=1), crop, 4, tile=0)
    diff = np.abs(out - ref)
    assert out.shape == ref.shape and diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())


@pytest.mark.parametrize("detail", [0.0, 0.3, 0.5, 0.85])
def test_real_blend_of_graph_outputs_matches_the_torch_blend(detail, crop):
    from sr_core import load_model

    ref = _torch_out(load_model("real", detail=detail), crop, tile=24, tile_overlap=4)
    model = load_onnx("real", detail, threads=1)
    assert model.config["detail"] == detail and model.config["detail_pair"] == ["real-psnr", "real"]
    assert isinstance(model, OnnxBlend) == (0 < detail < 1)  # both graphs run, their outputs mixed
    out = upscale_array(model, crop, 4, tile=24, tile_overlap=4)  # tiled, as the CLI runs it (the same tiles)
    diff = np.abs(out - ref)
    assert diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())


def test_graphs_are_made_from_the_committed_safetensors():
    """Each graph records the SHA-256 of the safetensors it was exported from: a retrained model whose graph
    was not re-exported (python -m sr_core.export --all) fails here."""
    import hashlib

    for name in SHIPPED:
        folder = config.weights_dir() / name
        meta = {p.key: p.value for p in onnx.load(str(folder / GRAPH_FILE), load_external_data=False).metadata_props}
        assert meta["name"] == name and meta["weights"] == "float16"
        assert meta["source_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(), name


def test_re_export_reproduces_the_committed_graph(tmp_path, crop):
    """The export command is the only source of the graphs: exporting srcnn again gives the committed outputs."""
    from sr_core.backends import OnnxModel, _read_config

    folder = config.weights_dir() / "srcnn"
    fresh = OnnxModel(export_shipped("srcnn", tmp_path / GRAPH_FILE), _read_config(folder), threads=1)
    committed = OnnxModel(folder / GRAPH_FILE, _read_config(folder), threads=1)
    assert np.abs(fresh(crop) - committed(crop)).max() <= 1e-6


def test_initializer_reader_agrees_with_onnx():
    from onnx import numpy_helper

    path = config.weights_dir() / "real" / GRAPH_FILE
    ours = read_initializers(path)
    theirs = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    assert ours.keys() == theirs.keys()
    assert all(ours[k].dtype == theirs[k].dtype and np.array_equal(ours[k], theirs[k]) for k in ours)
    from sr_core.backends import read_metadata

    assert read_metadata(path) == {p.key: p.value for p in onnx.load(str(path)).metadata_props}
