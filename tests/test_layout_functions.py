"""No function in the project's code folders is longer than 150 lines (issue 27: short functions, one purpose each)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("sr_core", "train", "benchmarks", "demo", "studies")
MAX_LINES = 150


def long_functions(root: Path = REPO, limit: int = MAX_LINES) -> list[str]:
    """``path:line name (N lines)`` of every function (nested ones too) over ``limit`` lines."""
    found = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_longer_than_150_lines():
    assert long_functions() == []


def test_the_check_sees_a_long_function(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "x.py").write_text("def f():\n" + "    x = 1\n" * 150)
    assert long_functions(tmp_path) == ["train/x.py:1 f (151 lines)"]
