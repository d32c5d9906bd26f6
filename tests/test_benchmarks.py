"""``python -m benchmarks.run --quick --sections models`` on two small models: it runs and reports.

The memory and tiling figures are checked by tests/test_inference.py (tiled vs whole image) and measured by
the full benchmark; its fresh-process memory runs are too slow for the test suite on a loaded machine.

Speed figures are not asserted (they depend on the machine and its load); only that they were measured,
that the derived quantities are consistent, and that the Markdown table is written.
"""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import run


def test_quick_benchmark_models(tmp_path):
    status = run.main(["--quick", "--sections", "models", "--models", "srcnn,swift-srgan", "--size", "24",
                       "--runs", "2", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "bench.json").read_text())
    assert status == 0, res.get("errors")
    models = res["models"]["models"]
    assert set(models) == {"srcnn", "swift-srgan"}
    for row in models.values():
        assert row["parameters"] > 0 and row["macs_per_output_mpx"] > 0
        for variant in ("plain", "optimized"):
            assert row[variant]["mpx_per_s"] > 0 and row[variant]["gflops"] > 0
    # SRCNN (9-5-5, 64/32 features, at the output resolution): 3*64*81 + 64*32*25 + 32*3*25 = 69,152 MACs per
    # output pixel, counted by hand
    assert models["srcnn"]["macs_per_output_mpx"] == 69_152 * 1e6
    # 200k-parameter separable Swift-SRGAN costs fewer MACs per pixel than the 69k-parameter SRCNN at output size
    assert models["swift-srgan"]["macs_per_output_mpx"] < models["srcnn"]["macs_per_output_mpx"]
    md = (tmp_path / "bench.md").read_text()
    assert "swift-srgan" in md and "srcnn" in md


def test_count_macs_matches_a_hand_counted_network():
    """``benchmarks.speed.count_macs`` (behind every GFLOP/s figure) on a small network counted by hand."""
    import torch
    from torch import nn

    from benchmarks.speed import count_macs

    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),               # 8*10*12 outputs x 3*3*3   = 25,920
        nn.ReLU(),                                   # not counted
        nn.Conv2d(8, 8, 3, padding=1, groups=8),     # 960 outputs x 1*3*3       =  8,640
        nn.Conv2d(8, 4, 1),                          # 4*10*12 outputs x 8       =  3,840
        nn.PixelShuffle(2),                          # not counted: (1, 20, 24)
        nn.ConvTranspose2d(1, 2, 2, stride=2),       # 480 inputs x 2*2*2        =  3,840 -> (2, 40, 48)
        nn.Upsample(scale_factor=0.5, mode="bilinear"),  # not counted -> (2, 20, 24)
        nn.Flatten(),
        nn.Linear(960, 5),                           # 5 outputs x 960           =  4,800
    )
    macs, shape = count_macs(net, torch.rand(1, 3, 10, 12))
    assert shape == (1, 5)
    assert macs == 25_920 + 8_640 + 3_840 + 3_840 + 4_800


def test_precision_compares_float32_and_bfloat16(tmp_path):
    """``benchmarks.precision``, small: both precisions on Set5 and a photo; bfloat16 stays near float32."""
    from benchmarks import precision

    res = precision.main(["--models", "srcnn", "--sets", "Set5", "--size", "48", "--runs", "1", "--threads", "1",
                          "--train-models", "srcnn", "--train-batch", "2", "--train-patch", "8", "--train-steps", "1",
                          "--out", str(tmp_path)])
    step = res["training"]["srcnn"]["s_per_step"]
    assert step["float32"] > 0 and step["bfloat16"] > 0
    row = res["results"]["srcnn"]
    psnr = row["sets"]["Set5"]
    assert 25 < psnr["float32"]["psnr"] < 40 and abs(psnr["bfloat16"]["psnr"] - psnr["float32"]["psnr"]) < 0.1
    assert 0 < row["mean_abs_diff_in_255"] < 1 and row["speedup"] > 0
    assert res["auto_dtype"] == ("bfloat16" if res["amx"] or res["avx512_bf16"] else "float32")
    assert "| srcnn | " in (tmp_path / "precision.md").read_text()


def test_fast_width_variants_and_a_short_training(tmp_path):
    """``benchmarks.fast_width``, tiny: every width with and without attention beside srresnet, and one short
    training; attention has no parameters and no multiply-accumulates, width costs quadratically."""
    from benchmarks import fast_width

    assert fast_width.main(["--threads", "1", "--size", "16", "--runs", "1", "--train-steps", "1", "--train-patch",
                            "8", "--train-iters", "1", "--train", "32-off", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "fast_width.json").read_text())
    v = res["variants"]
    assert set(v) == {"32", "32-off", "48", "48-off", "64", "64-off", "srresnet"}
    assert all(r["mpx_per_s"] > 0 and r["train_lr_mpx_per_s"] > 0 for r in v.values())
    for w in (32, 48, 64):
        on, off = v[str(w)], v[f"{w}-off"]
        assert on["parameters"] == off["parameters"] and on["gmac_per_output_mpx"] == off["gmac_per_output_mpx"]
    assert v["32"]["gmac_per_output_mpx"] < v["48"]["gmac_per_output_mpx"] < v["64"]["gmac_per_output_mpx"]
    assert v["48"]["parameters"] == 2_327_250  # the shipped fast
    assert abs(v["srresnet"]["gmac_per_output_mpx"] - 138.6) < 0.1  # as reports/bench_fast counts it
    assert set(res["training"]) == {"32-off"} and 5 < res["training"]["32-off"]["set5_psnr"] < 40
    assert "| 48 | on | 2,327,250 |" in (tmp_path / "fast_width.md").read_text()


def test_video_flicker_undoes_the_pan():
    """``benchmarks.video.flicker``: frames that are one picture panned by whole pixels score 0 once the pan is
    undone, and noise added to one frame shows up at its mean size."""
    import numpy as np

    from benchmarks.video import flicker

    scene = np.random.default_rng(0).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    frames = [scene[2 * t:2 * t + 80, 3 * t:3 * t + 100] for t in range(4)]  # moving 3 px right, 2 px down a frame
    assert flicker(frames, (3, 2), margin=4) == 0.0
    assert flicker(frames, (2, 3), margin=4) > 50  # the wrong shift: unrelated pixels
    noisy = [f.copy() for f in frames]
    noisy[3] = np.clip(noisy[3].astype(int) + 10, 0, 255).astype(np.uint8)  # +10 everywhere (bar clipping)
    assert 2.5 < flicker(noisy, (3, 2), margin=4) < 10 / 3 + 0.01  # one of three pairs differs by ~10


def test_benchmark_bicubic_set5(tmp_path):
    """benchmarks/quality.py in-process on the cheapest row: bicubic on Set5 (Pillow LR) is 28.43 dB."""
    from benchmarks.quality import main as benchmark

    report = benchmark(["--sets", "Set5", "--models", "bicubic", "--no-peers", "--out", str(tmp_path)])
    set5 = report["results"]["bicubic"]["sets"]["Set5"]
    assert set5["images"] == 5 and set5["psnr"] == pytest.approx(28.43, abs=0.01)
    assert set(set5["per_image"]) == {"baby", "bird", "butterfly", "head", "woman"}
    md = (tmp_path / "benchmark.md").read_text()
    assert "| bicubic |" in md and "28.42" in md and "MATLAB" in md and "CPU:" in md
    assert json.loads((tmp_path / "benchmark.json").read_text())["machine"]["torch"] == torch.__version__


def test_app_large_reports_time_memory_and_output_size(tmp_path):
    """``benchmarks.app_large`` on a tiny input: one fresh process presses Upscale and the report has the
    time, the peak memory and the output's size (the 4000x3000 measurement itself is run by hand)."""
    from benchmarks import app_large

    out = tmp_path / "report"
    status = app_large.main(["--size", "64x48", "--scales", "2", "--model", "bicubic", "--out", str(out)])
    res = json.loads((out / "app_large.json").read_text())
    assert status == 0, res["runs"]
    assert res["input"]["size"] == [64, 48] and res["input"]["jpeg_quality"] == 90
    (run,) = res["runs"]
    assert run["model"] == "bicubic" and run["scale"] == 2
    assert run["input_size"] == [64, 48] and run["output_size"] == [128, 96]
    assert run["button_seconds"] > 0 and run["process_seconds"] >= run["button_seconds"]
    assert run["peak_rss_bytes"] > 0 and run["peak_rss_bytes"] >= run["rss_after_import_bytes"] > 0
    assert run["max_input_pixels"] == 16_000_000  # the local app's limit, not a Space's
    assert run["files"]["output"]["name"].endswith("_x2.png") and run["files"]["output"]["bytes"] > 0
    md = (out / "app_large.md").read_text()
    assert "| x2 | 64x48 | 128x96 |" in md and "peak RSS" in md
