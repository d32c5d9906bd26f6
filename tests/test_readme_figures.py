"""The README's and the docs' results tables say what the committed reports say, to the digit.

A table row counts when its first cell holds a report key in backticks (`` `srresnet` ``, `` `peer:vdsr` ``,
`` `real@0.5` ``); words after the key (`` `real@0.5` (the default) ``) are ignored. Columns are found by
their header, so a table may leave some out or add others:

* clean images (``reports/benchmark``): the parameter count, and "Set5" / "Set14" / "BSD100" as the report's
  mean PSNR / SSIM rounded to 2 and 4 digits;
* web photos (``reports/real_photos``): NIQE, JPEG-grid ratio and Mpx/s, 3 digits;
* degraded BSD100 (``reports/real``): PSNR / SSIM / NIQE per strength, or PSNR / SSIM at the default strength;
* video flicker (``reports/video/flicker``), bfloat16 (``reports/precision_epyc``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETS = ("Set5", "Set14", "BSD100")


def _report(*parts: str) -> dict:
    return json.loads(REPO.joinpath("reports", *parts).read_text())


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(path: str, heading: str | None = None) -> list[tuple[list[str], list[tuple[str, list[str]]]]]:
    """Every Markdown table of ``path`` (within the section ``heading`` when given, up to the next heading of
    the same level) as ``(header cells, [(key, cells), ...])`` for the rows whose first cell holds a key."""
    text = (REPO / path).read_text()
    if heading is not None:
        level = heading.split(" ")[0]
        start = text.index(heading + "\n")
        end = text.find(f"\n{level} ", start + len(heading))
        text = text[start:end if end >= 0 else None]
    out, header, rows = [], None, []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if header is None:
                header = _cells(line)
            elif not set(line.replace("|", "").strip()) <= set("-: "):
                cells = _cells(line)
                key = re.match(r"`([^`]+)`", cells[0])
                if key:
                    rows.append((key.group(1), cells))
        elif header is not None:
            out.append((header, rows))
            header, rows = None, []
    return out


def table_with(path: str, column: str, heading: str | None = None):
    found = [t for t in tables(path, heading) if any(column in h for h in t[0])]
    assert found, f"{path}: no table with a {column!r} column"
    return found


def _col(header: list[str], words: str) -> int:
    return next(i for i, h in enumerate(header) if words in h)


def check_clean(header, rows, minimum: int):
    report = _report("benchmark", "benchmark.json")["results"]
    assert len(rows) >= minimum, "the results table was not found"
    for key, cells in rows:
        assert key in report, f"row {key!r} has no row in reports/benchmark"
        r = report[key]
        assert cells[_col(header, "parameters")].replace(",", "") == str(r["parameters"]), key
        for name in SETS:
            want = f"{r['sets'][name]['psnr']:.2f} / {r['sets'][name]['ssim']:.4f}"
            got = cells[_col(header, name)].replace("*", "")
            assert got == want, f"{key} {name}: {got!r}, report {want!r}"
    return {k for k, _ in rows}


def check_real_photos(header, rows):
    report = _report("real_photos", "real_photos.json")["models"]
    for key, cells in rows:
        r = report[key]
        assert cells[_col(header, "NIQE")] == f"{r['niqe']:.3f}", key
        assert cells[_col(header, "grid")] == f"{r['grid_ratio']:.3f}", key
        assert cells[_col(header, "Mpx/s")] == f"{r['mpx_per_s']:.3f}", key
    return {k for k, _ in rows}


def test_readme_clean_table_matches_the_benchmark_report():
    (header, rows), = table_with("README.md", "Set5", "## Results")
    assert {"bicubic", "fast", "srresnet"} <= check_clean(header, rows, 3)


def test_docs_clean_table_matches_the_benchmark_report():
    (header, rows), = table_with("docs/results.md", "Set5")
    assert {"bicubic", "srresnet", "fast", "real", "peer:imdn"} <= check_clean(header, rows, 8)


def test_readme_photo_table_matches_the_real_photo_and_degraded_reports():
    (header, rows), = table_with("README.md", "NIQE", "## Results")
    assert rows[0][0] == "real@0.5", "the default model comes first"
    assert {"real@0.5", "real", "real-psnr", "bicubic", "peer:realesr-general-x4v3"} <= check_real_photos(header, rows)
    degraded = _report("real", "real.json")
    assert "real" in degraded["strengths"]
    i = _col(header, "degraded BSD100")
    for key, cells in rows:
        s = degraded["results"][key]["sets"]["real"]
        assert cells[i] == f"{s['psnr']:.2f} / {s['ssim']:.4f}", key


def test_docs_real_photo_tables_match_their_reports():
    (header, rows), = table_with("docs/real-photos.md", "JPEG-grid")
    assert len(rows) >= 7 and "real@0.5" in check_real_photos(header, rows)
    report = _report("real", "real.json")
    (header, rows), = table_with("docs/real-photos.md", "real-mild")
    assert len(rows) >= 7
    for key, cells in rows:
        r = report["results"][key]
        for i, strength in enumerate(report["strengths"]):
            s = r["sets"][strength]
            want = f"{s['psnr']:.2f} / {s['ssim']:.4f} / {s['niqe']:.3f}"
            assert cells[1 + i] == want, f"{key} {strength}: {cells[1 + i]!r}, report {want!r}"
        speed = [r["sets"][s]["mpx_per_s"] for s in report["strengths"]]
        assert cells[3] == f"{sum(speed) / len(speed):.3f}", key  # as benchmarks.real's table: the mean


def test_docs_flicker_table_matches_the_video_report():
    report = {r["model"]: r for r in _report("video", "flicker.json")["rows"]}
    (header, rows), = table_with("docs/video.md", "vs bicubic")
    assert {k for k, _ in rows} == set(report), "every measured model, no other"
    for key, cells in rows:
        r = report[key]
        assert cells[1:3] == [f"{v:.2f}" for v in r["flicker"]], key
        assert cells[3] == f"{r['mean']:.2f}" and cells[4] == f"{r['ratio']:.2f}x", key


def test_docs_bfloat16_table_matches_the_precision_report():
    report = _report("precision_epyc", "precision.json")
    assert report["auto_dtype"] == "bfloat16"
    (header, rows), = table_with("docs/benchmarks.md", "Set5 bfloat16")
    assert len(rows) == len(report["results"])
    for key, cells in rows:
        r = report["results"][key]
        for name in ("Set5", "Set14"):
            for dtype in ("float32", "bfloat16"):
                assert cells[_col(header, f"{name} {dtype}")] == f"{r['sets'][name][dtype]['psnr']:.3f}", key
        assert cells[_col(header, "speed-up")] == f"{r['speedup']:.2f}x", key


@pytest.mark.parametrize("path", ["README.md", *sorted(p.relative_to(REPO).as_posix()
                                                       for p in (REPO / "docs").glob("*.md"))])
def test_relative_links_resolve(path):
    """Every relative link and image of the README and the docs names a file or folder that exists, and every
    ``#anchor`` into a Markdown file names one of its headings (GitHub's slugs)."""
    text = (REPO / path).read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (REPO / path).parent / file if file else REPO / path
        assert dest.exists(), f"{path}: link to {target} (no {dest.relative_to(REPO)})"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", dest.read_text(), flags=re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{path}: no heading #{anchor} in {file or path}"
