"""The README's results table says what the committed benchmark report says, to the digit.

Each row of the table under "## Results" whose first cell holds a report key in backticks (`` `srresnet` ``,
`` `peer:vdsr` ``) must give, for every set, exactly the report's mean PSNR and SSIM rounded to 2 and 4 digits,
and the report's parameter count.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = ("Set5", "Set14", "BSD100")


def _table_rows() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Results"):]
    section = section[:section.index("\n## ", 4)]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|") and re.search(r"`[^`]+`", line.split("|")[1])]


def test_results_table_matches_the_benchmark_report():
    report = json.loads((REPO / "reports" / "benchmark" / "benchmark.json").read_text())["results"]
    rows = _table_rows()
    assert len(rows) >= 8, "the results table was not found"
    checked = set()
    for cells in rows:
        key = re.search(r"`([^`]+)`", cells[0]).group(1)
        assert key in report, f"README row {key!r} has no row in reports/benchmark"
        r = report[key]
        assert cells[1].replace(",", "") == str(r["parameters"]), key
        for i, name in enumerate(SETS):
            want = f"{r['sets'][name]['psnr']:.2f} / {r['sets'][name]['ssim']:.4f}"
            assert cells[2 + i].replace("*", "") == want, f"{key} {name}: README {cells[2 + i]!r}, report {want!r}"
        checked.add(key)
    assert {"bicubic", "srresnet"} <= checked


def test_real_photos_table_matches_the_degraded_benchmark_report():
    """The README's degraded-BSD100 table (under "## Real photos") gives reports/real's means to the digit."""
    report = json.loads((REPO / "reports" / "real" / "real.json").read_text())
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Real photos"):]
    section = section[:section.index("\n## ", 4)]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|") and re.search(r"`[^`]+`", line.split("|")[1])]
    assert len(rows) >= 5, "the real-photos table was not found"
    for cells in rows:
        key = re.search(r"`([^`]+)`", cells[0]).group(1)
        r = report["results"][key]["sets"]
        for i, strength in enumerate(report["strengths"]):
            s = r[strength]
            want = f"{s['psnr']:.2f} / {s['ssim']:.4f} / {s['niqe']:.3f}"
            assert cells[1 + i].replace("*", "") == want, f"{key} {strength}: README {cells[1 + i]!r}, report {want!r}"
    assert {"bicubic", "srresnet", "real-psnr", "real"} <= {re.search(r"`([^`]+)`", c[0]).group(1) for c in rows}
