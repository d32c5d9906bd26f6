"""ONNX export: ONNX Runtime reproduces PyTorch (within 1e-3) at sizes other than the traced one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import smooth_rgb

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")

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
