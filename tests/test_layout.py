"""The project's shape: imports run one way and never in a circle (issue 27).

Every module of ``sr_core``, ``benchmarks``, ``train``, ``studies``, ``demo`` and ``app.py`` is parsed with
``ast`` (nothing is imported), and every ``import`` in it counts, those inside functions too. The arrows:

    sr_core  <-  benchmarks  <-  train  <-  studies        demo -> sr_core only

``sr_core`` is the library (and the wheel): it imports none of the others.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sr_core", "benchmarks", "train", "studies", "demo")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}
    found["app"] = REPO / "app.py"
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every name ``path`` imports, anywhere in the file (relative imports resolved; ``from m import x``
    gives ``m.x``, which is the module ``m.x`` or the name ``x`` of the module ``m``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.update(f"{module}.{alias.name}" for alias in node.names)  # a name in m: m (import_graph)
    return out


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (the nearest project module for ``m.x``)."""
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in imported_names(name, path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def top(name: str) -> str:
    return name.split(".")[0]


def arrows(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(f"{a} -> {b}" for a, bs in graph.items() if top(a) == source for b in bs if top(b) == target)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a list of modules, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_imports_inside_functions(graph):
    assert "sr_core.community" in graph["sr_core.checkpoint"]  # load_model hands community files over
    assert "benchmarks.provenance" in graph["studies.catsdogs.srgan"]  # imported inside compare()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles(graph):
    assert find_cycle(graph) is None


@pytest.mark.parametrize("upper", ["benchmarks", "train", "studies", "demo", "app"])
def test_the_library_imports_nothing_above_it(graph, upper):
    assert arrows(graph, "sr_core", upper) == []


def test_the_app_imports_only_the_library(graph):
    bad = sorted(f"{a} -> {b}" for a, bs in graph.items() if top(a) == "demo" for b in bs
                 if top(b) not in ("sr_core", "demo"))
    assert bad == []


@pytest.mark.parametrize("source, target", [("benchmarks", "studies"), ("train", "studies"),
                                            ("benchmarks", "demo"), ("train", "demo"), ("studies", "demo")])
def test_arrows_run_one_way(graph, source, target):
    assert arrows(graph, source, target) == []


def test_benchmarks_do_not_import_train(graph):
    assert arrows(graph, "benchmarks", "train") == []


def test_the_wheel_holds_only_the_library():
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert packages and all(p == "sr_core" or p.startswith("sr_core.") for p in packages)
    assert not (REPO / "sr_core" / "peers.py").exists() and not (REPO / "sr_core" / "provenance.py").exists()
