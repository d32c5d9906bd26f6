"""Committed reports describe the weights that ship, or say which earlier version they were measured on.

A report JSON under ``reports/`` that records the sha256 of a shipped weights file
(``weights/<name>/model.safetensors``) claims to describe that file. Recorded as (see ``benchmarks.provenance``):

* ``"weights": "weights/<name>/model.safetensors"`` with ``"weights_sha256"`` beside it, or
  ``"sr_weights"`` / ``"sr_weights_sha256"`` (``studies.catsdogs.data``), anywhere in the JSON;
* ``"weights_sha256": {"<name>": "<hex>"}`` (``train.figures``).

Each recorded sha256 must equal the shipped file's, unless the report's top-level ``"stale"`` entry labels
that name ``{"<name>": "<text naming the recorded sha256's first 12 hex digits>"}`` and a Markdown file
beside the JSON carries the same text (what a reader sees). A label on a file that does match is wrong too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "reports"
WEIGHTS = REPO / "weights"
_PAIRS = (("weights", "weights_sha256"), ("sr_weights", "sr_weights_sha256"))


def _shipped_name(path: str) -> str | None:
    """``<name>`` when ``path`` is a shipped weights file (``weights/<name>/model.safetensors``, possibly
    absolute), None for anything else (runs/, peers, snapshots)."""
    m = re.search(r"(?:^|/)weights/([^/]+)/model\.safetensors$", path.replace("\\", "/"))
    if m is None or "runs/" in path:
        return None
    return m.group(1)


def recorded_weights(report) -> list[tuple[str, str, str]]:
    """``(name, sha256, where)`` for every shipped weights file the report records."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for path_key, sha_key in _PAIRS:
                path, sha = node.get(path_key), node.get(sha_key)
                if isinstance(path, str) and isinstance(sha, str):
                    name = _shipped_name(path)
                    if name is not None:
                        found.append((name, sha, f"{where}/{sha_key}"))
            if isinstance(node.get("weights_sha256"), dict):
                for name, sha in node["weights_sha256"].items():
                    if isinstance(sha, str):
                        found.append((name, sha, f"{where}/weights_sha256/{name}"))
            for key, value in node.items():
                if key != "stale":
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(report, "")
    return found


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def problems(report_file: Path, weights_dir: Path) -> list[str]:
    report = json.loads(report_file.read_text())
    stale = report.get("stale", {}) if isinstance(report, dict) else {}
    markdown = "\n".join(p.read_text() for p in sorted(report_file.parent.glob("*.md")))
    out = []
    mismatched = set()
    for name, sha, where in recorded_weights(report):
        current = _sha256(weights_dir / name / "model.safetensors")
        if current == sha:
            continue
        mismatched.add(name)
        now = f"the shipped file's is {current[:12]}" if current else "no such file ships"
        if name not in stale:
            out.append(f"{report_file.name}{where}: records {name} sha256 {sha[:12]}, {now}; re-make the report "
                       f"or label it in \"stale\"")
        elif sha[:12] not in stale[name]:
            out.append(f"{report_file.name}: the stale label of {name} does not name the sha256 it was measured "
                       f"on ({sha[:12]})")
    for name, text in stale.items():
        if name not in mismatched:
            out.append(f"{report_file.name}: labels {name} stale, but every sha256 it records for {name} matches "
                       f"the shipped file (or it records none)")
        if text not in markdown:
            out.append(f"{report_file.name}: the stale label of {name} is not in the Markdown beside it")
    return out


REPORT_FILES = sorted(p for p in REPORTS.rglob("*.json"))


def test_reports_are_found():
    names = {p.relative_to(REPORTS).as_posix() for p in REPORT_FILES}
    assert {"realism/realism.json", "catsdogs/report.json", "srgan_catsdogs/compare.json",
            "benchmark/benchmark.json"} <= names
    # the reports that record weights hashes are seen as such
    assert recorded_weights(json.loads((REPORTS / "realism" / "realism.json").read_text()))


@pytest.mark.parametrize("report_file", REPORT_FILES, ids=lambda p: p.relative_to(REPORTS).as_posix())
def test_recorded_sha256_matches_shipped_weights_or_is_labelled_stale(report_file):
    assert problems(report_file, WEIGHTS) == []


def test_the_checker_catches_a_changed_file_and_a_wrong_label(tmp_path):
    weights = tmp_path / "weights"
    (weights / "m").mkdir(parents=True)
    (weights / "m" / "model.safetensors").write_bytes(b"new")
    new, old = hashlib.sha256(b"new").hexdigest(), hashlib.sha256(b"old").hexdigest()
    folder = tmp_path / "r"
    folder.mkdir()
    report = folder / "r.json"

    def write(body: dict, md: str = "") -> list[str]:
        report.write_text(json.dumps(body))
        (folder / "r.md").write_text(md)
        return problems(report, weights)

    assert write({"x": {"weights": "weights/m/model.safetensors", "weights_sha256": new}}) == []
    assert write({"x": {"sr_weights": "/abs/weights/m/model.safetensors", "sr_weights_sha256": old}})
    assert write({"weights_sha256": {"m": old}})
    assert write({"weights_sha256": {"gone": old}})  # a file that no longer ships
    label = f"measured on an earlier m (sha256 {old[:12]})"
    assert write({"weights_sha256": {"m": old}, "stale": {"m": label}}, md=label) == []
    assert write({"weights_sha256": {"m": old}, "stale": {"m": label}})                     # not in the Markdown
    assert write({"weights_sha256": {"m": old}, "stale": {"m": "earlier"}}, md="earlier")   # names no sha256
    assert write({"weights_sha256": {"m": new}, "stale": {"m": label}}, md=label)           # label on a match
    # runs/ snapshots and peers are not shipped files
    assert write({"a": {"weights": "runs/x/weights/model.safetensors", "weights_sha256": old},
                  "b": {"sr_weights": "runs/y/weights/m/model.safetensors", "sr_weights_sha256": old}}) == []


def test_benchmark_records_the_sha256_of_each_model_it_measures(tmp_path, set5_dir, monkeypatch):
    """``benchmarks.quality`` writes each measured file's path and sha256 beside its row."""
    from benchmarks.quality import main

    monkeypatch.chdir(REPO)
    report = main(["--sets=Set5", "--models=bicubic,srcnn", "--no-peers", f"--out={tmp_path}"])
    row = report["results"]["srcnn"]
    assert row["weights"] == "weights/srcnn/model.safetensors"
    assert row["weights_sha256"] == _sha256(WEIGHTS / "srcnn" / "model.safetensors")
    assert "weights" not in report["results"]["bicubic"]
    assert recorded_weights(json.loads((tmp_path / "benchmark.json").read_text())) == [
        ("srcnn", row["weights_sha256"], "/results/srcnn/weights_sha256")]
    assert row["weights_sha256"][:12] in (tmp_path / "benchmark.md").read_text()
