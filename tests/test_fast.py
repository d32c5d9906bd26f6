"""The ``fast`` network: re-parameterisation is exact, the skip is the nearest-upsampled input, every inference path
(tiling, low precision, ONNX, the inference copy) agrees with it; its training recipe (EMA, resume, time limit) and
the GPU sprint command run end to end on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import run_python, smooth_rgb
from sr_core import config, upscale_tensor
from sr_core.metrics import psnr
from sr_core.nets import FastSR, build_preset
from sr_core.nets.fast import RepConv3x3
from sr_core.optimize import prepare_for_inference

REPO = Path(__file__).resolve().parents[1]
DATA = config.data_root()
T91 = DATA / "sr_train" / "T91"


def _tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(smooth_rgb(width, height, seed)).permute(2, 0, 1)[None].float() / 255


def _randomise(model: torch.nn.Module, seed: int = 0, gain: float = 0.2) -> torch.nn.Module:
    """Every weight random and non-zero (so that each branch, the identity included, matters)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * gain / max(1, p[0].numel()) ** 0.5)
    return model


def _small_fast(seed: int = 0, **kw) -> FastSR:
    torch.manual_seed(seed)
    model = FastSR(**{"num_features": 16, "num_blocks": 2, **kw})
    return _randomise(model, seed).eval()


# --- re-parameterisation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cin,cout,expand", [(8, 8, 2), (8, 8, 0), (3, 8, 2), (8, 48, 1)])
def test_repconv_merged_kernel_equals_the_sum_of_its_branches(cin, cout, expand):
    torch.manual_seed(0)
    conv = _randomise(RepConv3x3(cin, cout, expand).double(), gain=1.0)
    assert conv.identity == (cin == cout)
    x = torch.randn(2, cin, 13, 9, dtype=torch.float64)
    branches = conv.forward_branches(x)
    merged = conv(x)
    plain = conv.to_conv()(x)
    assert isinstance(conv.to_conv(), torch.nn.Conv2d)
    assert branches.abs().mean() > 0.1
    # float64: equal to rounding, borders included (the expand branch has no bias before its 3x3)
    assert (merged - branches).abs().max() < 1e-10
    assert (plain - branches).abs().max() < 1e-10


def test_identity_branch_is_the_input():
    conv = RepConv3x3(4, 4, expand=0)
    with torch.no_grad():
        for p in conv.parameters():
            p.zero_()
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(conv(x), x)
    assert torch.equal(conv.forward_branches(x), x)


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reparameterized_network_equals_training_network(attention, scale):
    model = _small_fast(attention=attention, scale=scale)
    x = _tensor(23, 17)
    with torch.no_grad():
        ref = model(x)
        merged = FastSR(**model.hparams)
        merged.load_state_dict(model.state_dict())
        merged.eval().reparameterize()
        out = merged(x)
    assert merged.is_reparameterized and not model.is_reparameterized
    assert not any(isinstance(m, RepConv3x3) for m in merged.modules())
    assert out.shape == (1, 3, 17 * scale, 23 * scale)
    assert ref.std() > 0.05
    assert (out - ref).abs().max() < 1e-5  # float32 rounding


def test_merged_network_is_a_chain_of_plain_3x3_convolutions():
    merged = _small_fast().reparameterize()
    convs = [m for m in merged.modules() if isinstance(m, torch.nn.Conv2d)]
    # head + 2 blocks x 3 + body tail + tail are 3x3; the fusion is the one 1x1
    assert sorted(c.kernel_size for c in convs) == [(1, 1)] + [(3, 3)] * 9


def test_skip_is_the_nearest_upsampled_input():
    model = FastSR(num_features=8, num_blocks=1)
    with torch.no_grad():
        for p in model.tail.parameters():
            p.zero_()
    x = _tensor(11, 7)
    with torch.no_grad():
        out = model(x)
    assert torch.equal(out, F.interpolate(x, scale_factor=4, mode="nearest"))


def test_fast_preset_is_cheaper_than_srresnet():
    """The MAC count per output pixel (a property of the architecture, not a timing)."""
    from benchmarks.speed import macs_per_output_mpx

    fast = prepare_for_inference(build_preset("fast").eval())
    srresnet = prepare_for_inference(build_preset("srresnet").eval())
    assert macs_per_output_mpx(fast) * 4 < macs_per_output_mpx(srresnet)


# --- every inference path ----------------------------------------------------------------------------------

def test_inference_copy_is_merged_and_equal():
    model = _small_fast()
    prepared = prepare_for_inference(model)
    assert prepared.is_reparameterized and not model.is_reparameterized  # the original is untouched
    x = _tensor(19, 21)
    with torch.inference_mode():
        ref = model(x)
        out = prepared(x.contiguous(memory_format=torch.channels_last))
    assert (out - ref).abs().max() < 1e-5


@pytest.mark.parametrize("size,tile,overlap", [((53, 37), 28, 12), ((37, 61), 40, 16)])
def test_tiled_matches_whole_image(size, tile, overlap):
    model = _small_fast()
    x = _tensor(*size)
    whole = upscale_tensor(model, x, tile=0)
    calls = []
    tiled = upscale_tensor(model, x, tile=tile, tile_overlap=overlap, progress=lambda d, t: calls.append(d))
    assert len(calls) > 1 and whole.std() > 0.1
    # the criteria of tests/test_inference.py: tiles are blended over the overlap, so not bit-equal
    assert psnr(tiled, whole, y_channel=False).item() > 45
    assert (tiled - whole).abs().mean().item() < 1 / 255


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("autocast", [False, True])
def test_in_place_inference_equals_the_autograd_forward(attention, autocast):
    """Without autograd, FastSR writes its element-wise steps into fresh tensors: the same values as the
    allocating forward that training runs, the caller's input untouched, and under bfloat16 autocast the
    float32 skip is still added in float32 (the output keeps the input's precision)."""
    model = prepare_for_inference(_small_fast(attention=attention))
    x = _tensor(23, 17).contiguous(memory_format=torch.channels_last)
    before = x.clone()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        with torch.enable_grad():  # nothing requires grad: only the code path differs
            ref = model(x)
        with torch.inference_mode():
            out = model(x)
    assert torch.equal(x, before)
    assert out.dtype == ref.dtype == torch.float32
    assert torch.equal(out, ref)


def test_bfloat16_is_close_to_float32():
    model = _small_fast()
    x = _tensor(24, 24)
    ref = upscale_tensor(model, x, tile=0)
    low = upscale_tensor(model, x, tile=0, dtype=torch.bfloat16)
    assert low.dtype == torch.float32 and low.shape == ref.shape
    assert (low - ref).abs().mean().item() < 3 / 255


def test_onnx_export_matches_pytorch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sr_core.export import export_onnx

    model = _small_fast()
    path = export_onnx(model, tmp_path / "fast.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for h, w in [(24, 32), (41, 17)]:
        x = _tensor(w, h)
        with torch.inference_mode():
            ref = model(x).numpy()
        (out,) = session.run(None, {"lr": x.numpy()})
        assert out.shape == (1, 3, h * 4, w * 4)
        assert np.abs(out - ref).max() <= 1e-3


def test_saved_weights_load_back_and_merge(tmp_path):
    from sr_core import load_model, save_pretrained

    model = _small_fast()
    save_pretrained(model, tmp_path / "m", name="fast-test")
    loaded = load_model(tmp_path / "m")
    x = _tensor(12, 10)
    with torch.inference_mode():
        assert (loaded(x) - model(x)).abs().max() < 1e-6
    assert (upscale_tensor(loaded, x, tile=0) - model(x).clamp(0, 1)).abs().max() < 1e-5


# --- training ------------------------------------------------------------------------------------------------

def test_ema_update_follows_its_formula():
    from train.loop import update_ema

    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = [p.detach().clone() for p in a.parameters()]
    update_ema(a, b, decay=0.999, step=0)  # warm-up: d = min(0.999, 1/10)
    for pa, p0, pb in zip(a.parameters(), before, b.parameters()):
        assert torch.allclose(pa, 0.1 * p0 + 0.9 * pb, atol=1e-7)
    before = [p.detach().clone() for p in a.parameters()]
    update_ema(a, b, decay=0.9, step=10_000)
    for pa, p0, pb in zip(a.parameters(), before, b.parameters()):
        assert torch.allclose(pa, 0.9 * p0 + 0.1 * pb, atol=1e-7)


_run = run_python


needs_data = pytest.mark.skipif(not T91.is_dir(), reason=f"training data not found under {DATA}")


@needs_data
@pytest.mark.timeout(2400)
def test_fast_recipe_with_ema_resumes_bit_exact(tmp_path):
    from safetensors.torch import load_file

    from sr_core.training import load_state

    common = ["-m", "train.fast", "--tiny", "--no-progress", "--no-plot", "--train_dirs=sr_train/T91",
              "--max_iters=4", "--deterministic", "--threads=1"]
    _run(tmp_path, *common, "--name=straight")
    _run(tmp_path, *common, "--name=resumed", "--stop_at=2")
    out = _run(tmp_path, *common, "--name=resumed", "--resume")
    assert "resumed runs/resumed at iteration 2" in out
    a, b = tmp_path / "runs" / "straight", tmp_path / "runs" / "resumed"
    sa, sb = load_state(a / "state.pt"), load_state(b / "state.pt")
    assert sa["iter"] == sb["iter"] == 4 and "ema" in sa
    for key in ("generator", "ema"):
        assert all(torch.equal(sa[key][k], sb[key][k]) for k in sa[key])
    # the exported weights are the EMA copy, not the raw generator
    wa = load_file(str(a / "weights" / "model.safetensors"))
    ema = {k: v.half() for k, v in sa["ema"].items()}
    assert all(torch.equal(wa[k], ema[k]) for k in wa)
    assert any(not torch.equal(sa["ema"][k], sa["generator"][k]) for k in sa["ema"])
    cfg = json.loads((a / "weights" / "config.json").read_text())
    assert cfg["arch"] == "fastsr" and cfg["training"]["ema"] == 0.999 and cfg["training"]["loss"] == "l1"


@needs_data
@pytest.mark.timeout(2400)
def test_sprint_packs_trains_and_brings_back_weights(tmp_path):
    from sr_core import load_model

    out = _run(tmp_path, "-m", "train.sprint", "--tiny", "--recipe=cpu", "--minutes=0.1", "--calibrate=2",
               f"--out={tmp_path / 'back'}", "--threads=1")
    assert "packed" in out
    manifest = json.loads((tmp_path / "sprint_data" / "MANIFEST.json").read_text())
    packed = sum(p.stat().st_size for p in (tmp_path / "sprint_data").glob("*.jpg"))
    assert manifest["images"] > 0 and packed == manifest["bytes"] <= manifest["budget_mib"] * 2 ** 20
    back = tmp_path / "back"
    assert {"weights", "metrics.jsonl", "config.json", "CARD.md"} <= {p.name for p in back.iterdir()}
    model = load_model(back / "weights")
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
    assert "iterations" in (back / "CARD.md").read_text()


@needs_data
def test_time_limit_stops_and_checkpoints(tmp_path):
    from sr_core.training import load_state

    out = _run(tmp_path, "-m", "train.fast", "--tiny", "--no-progress", "--no-plot", "--train_dirs=sr_train/T91",
               "--max_iters=100000", "--time_limit=0.001", "--threads=1", "--name=limited")
    assert "--time_limit" in out
    assert 1 <= load_state(tmp_path / "runs" / "limited" / "state.pt")["iter"] < 100000


def test_cost_curve_counts_threads_per_stretch_of_a_resumed_run(tmp_path):
    from train.cost_curve import run_points

    run = tmp_path / "run"
    run.mkdir()
    cfg = {"config": {"model": "fast", "threads": 1},
           "resumes": [{"iter": 10, "changed": {"max_iters": [100, 50]}},
                       {"iter": 20, "changed": {"threads": [2, 1]}}]}
    (run / "config.json").write_text(json.dumps(cfg))
    rows = [{"kind": "train", "iter": i, "time": 36.0 * i} for i in range(1, 41)]
    rows += [{"kind": "val", "iter": 20, "psnr": 30.0}, {"kind": "val", "iter": 40, "psnr": 31.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    points = run_points(run)["points"]
    # iterations 1-20 ran on 2 threads (36 s each: 0.02 CPU-hours), 21-40 on one (0.01 CPU-hours each)
    assert [p["iter"] for p in points] == [20, 40]
    assert points[0]["cpu_hours"] == pytest.approx(20 * 0.02)
    assert points[1]["cpu_hours"] == pytest.approx(20 * 0.02 + 20 * 0.01)
    assert points[1]["wall_hours"] == pytest.approx(40 * 0.01)


def test_cost_curve_accumulates_a_lineage_of_runs(tmp_path):
    """A run that continued another one's weights is counted on top of that run's CPU-hours."""
    from train.cost_curve import lineage_points

    runs = []
    for name, threads, iters in (("first", 2, range(1, 11)), ("second", 1, range(11, 21))):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"config": {"model": "fast", "threads": threads}}))
        rows = [{"kind": "train", "iter": i, "time": 36.0 * (i - iters[0] + 1)} for i in iters]
        rows.append({"kind": "val", "iter": iters[-1], "psnr": 30.0 + len(runs)})
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        runs.append(run)
    merged = lineage_points(runs)
    # 10 iterations of 36 s on 2 threads (0.2 CPU-hours), then 10 on one thread (0.1 CPU-hours)
    assert [p["iter"] for p in merged["points"]] == [10, 20]
    assert [p["cpu_hours"] for p in merged["points"]] == [pytest.approx(0.2), pytest.approx(0.3)]
    assert merged["points"][1]["wall_hours"] == pytest.approx(0.2) and merged["run"] == f"{runs[0]},{runs[1]}"
    # --after: the first run's report stands in for its folder, and the second is counted on top of its total
    earlier = json.loads(json.dumps(lineage_points(runs[:1])))
    assert earlier["total_cpu_hours"] == pytest.approx(0.2)
    assert json.loads(json.dumps(lineage_points(runs[1:], after=earlier))) == json.loads(json.dumps(merged))
    # a report from before the totals were recorded: the last point's hours (here the same: val at the last row)
    old = {k: v for k, v in earlier.items() if not k.startswith("total_")}
    assert lineage_points(runs[1:], after=old)["points"] == merged["points"]


def test_mac_count_sees_the_training_form_convolutions():
    """The training form runs functional convolutions (merged kernels): the MAC count must still see them."""
    from benchmarks.speed import count_macs

    model = _small_fast()
    x = torch.rand(1, 3, 8, 8)
    macs, _ = count_macs(model, x)
    # 9 3x3 convolutions (3->16 head, 7 of 16->16, 16->48 tail) and the 48->16 1x1 fusion, at 8x8 pixels
    hand = 64 * (3 * 16 * 9 + 7 * 16 * 16 * 9 + 16 * 48 * 9 + 48 * 16)
    assert macs == hand
    assert count_macs(prepare_for_inference(model), x)[0] == hand


@needs_data
def test_cost_curve_adds_a_gpu_stretch_at_the_lineages_cpu_hours(tmp_path, monkeypatch):
    """A GPU stretch (train/lease.sh) costs no CPU-hours: one point at the lineage's total, with its GPU-minutes
    from the log and the Set5 PSNR of its weights measured when the command runs (not its in-run validation)."""
    from sr_core import build_preset, save_pretrained
    from sr_core.data import load_eval_set
    from sr_core.metrics import evaluate
    from train.cost_curve import gpu_point
    from train.ship import _time_line

    torch.manual_seed(0)
    model = build_preset("fast", num_features=8, num_blocks=1)
    run = tmp_path / "gpu_run"
    save_pretrained(model, run / "weights", iterations=300, training={"batch_size": 128, "device": "cuda"})
    rows = [{"kind": "train", "iter": i, "time": 1.2 * i} for i in (100, 200, 300)]
    rows.append({"kind": "val", "iter": 300, "psnr": 99.0})  # a stale in-run figure: never used
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    after = {"points": [{"iter": 1000, "cpu_hours": 2.5, "set5_psnr": 30.0}], "total_cpu_hours": 2.75}
    point = gpu_point(run, after)
    want = evaluate(model, load_eval_set(config.benchmark_dir("Set5"), 4), 4)["psnr"]
    assert point["set5_psnr"] == pytest.approx(want, abs=1e-3) and point["set5_psnr"] != 99.0
    assert point["cpu_hours"] == 2.75 and point["gpu_minutes"] == pytest.approx(6.0)
    assert point["iter"] == 1300 and point["iterations_added"] == 300 and point["batch_size"] == 128
    # the model card of a GPU run gives minutes on the device, no CPU-hours
    line = _time_line(True, 360.0, 720.0, 2, {"cpu": "x", "usable_cores": 2}, "one test GPU")
    assert line == "- Time: 6.0 min of training on one test GPU."
