"""``python -m benchmarks.run --quick --sections models`` on two small models: it runs and reports.

The memory and tiling figures are checked by tests/test_inference.py (tiled vs whole image) and measured by
the full benchmark; its fresh-process memory runs are too slow for the test suite on a loaded machine.

Speed figures are not asserted (they depend on the machine and its load); only that they were measured,
that the derived quantities are consistent, and that the Markdown table is written.
"""

from __future__ import annotations

import json

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
            assert row[variant]["mpx_per_s"] > 0
            # GFLOP/s = 2 x MACs per output megapixel x output megapixels per second
            assert abs(row[variant]["gflops"] - 2 * row["macs_per_output_mpx"] * row[variant]["mpx_per_s"] / 1e9) < 1e-6
    # 200k-parameter separable Swift-SRGAN costs fewer MACs per pixel than the 69k-parameter SRCNN at output size
    assert models["swift-srgan"]["macs_per_output_mpx"] < models["srcnn"]["macs_per_output_mpx"]
    md = (tmp_path / "bench.md").read_text()
    assert "swift-srgan" in md and "srcnn" in md
