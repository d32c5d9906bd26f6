"""The installed package: ``pip install`` into a temporary target, then the ``sr-core`` command from elsewhere.

The build runs offline (``--no-build-isolation --no-index --no-deps``: setuptools and the
dependencies come from this environment) from a copy of the files the wheel is made of, so
the checkout gets no ``build/`` folder. The command then runs in another directory, where
neither the checkout nor its ``weights/`` folder can be found: the shipped weights must come
from the package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "sr_core", src / "sr_core", ignore=ignore)
    shutil.copytree(REPO_ROOT / "weights", src / "weights", ignore=ignore)
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--target", str(target), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


def run_installed(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SR_WEIGHTS_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(target), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([str(target / "bin" / "sr-core"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_installed_command_upscales_from_another_directory(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    Image.new("RGB", (24, 16), (120, 60, 200)).save(work / "photo.png")
    result = run_installed(installed, work, "upscale", "photo.png", "-o", "out.png", "--model", "srresnet")
    assert result.returncode == 0, result.stderr
    assert Image.open(work / "out.png").size == (96, 64)
    # where the command's sr_core and weights come from (config.py alone: no torch import to wait for)
    probe = ("import importlib.util as u; s = u.find_spec('sr_core'); print(s.origin); "
             "c = u.spec_from_file_location('c', s.submodule_search_locations[0] + '/config.py'); "
             "m = u.module_from_spec(c); c.loader.exec_module(m); print(m.weights_dir())")
    env = {k: v for k, v in os.environ.items() if k != "SR_WEIGHTS_DIR"}
    where = subprocess.run([sys.executable, "-c", probe], cwd=work, capture_output=True, text=True,
                           env={**env, "PYTHONPATH": str(installed)}, timeout=120)
    module, weights = where.stdout.split()
    assert Path(module).is_relative_to(installed) and Path(weights) == installed / "sr_core" / "weights"


def test_wheel_carries_every_weights_folder_and_module(installed):
    shipped = sorted(p.relative_to(REPO_ROOT / "weights") for p in (REPO_ROOT / "weights").glob("*/*") if p.is_file())
    assert shipped, "no weights in the checkout"
    packaged = installed / "sr_core" / "weights"
    assert sorted(p.relative_to(packaged) for p in packaged.glob("*/*") if p.is_file()) == shipped
    modules = sorted(p.relative_to(REPO_ROOT) for p in (REPO_ROOT / "sr_core").rglob("*.py"))
    assert all((installed / m).is_file() for m in modules), "a module of sr_core is missing from the wheel"


def test_installed_command_has_the_same_subcommands(installed, tmp_path):
    from sr_core.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    result = run_installed(installed, tmp_path, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: sr-core")
    for name in sub.choices:
        assert name in result.stdout


def test_version_lives_in_one_place(installed):
    import sr_core

    meta = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in meta and "version" in meta["dynamic"]
    assert (installed / f"sr_core-{sr_core.__version__}.dist-info").is_dir()
    assert meta["license"] == "Apache-2.0" and (REPO_ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_requirements_split():
    runtime = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    dev = (REPO_ROOT / "requirements-dev.txt").read_text().splitlines()
    pins = [line for line in runtime if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in pins) and any(line.startswith("spandrel==") for line in pins)
    assert "-r requirements.txt" in dev
    # onnx (the exporter) is a dev tool; onnxruntime is the light install's backend, so it is runtime
    assert not any(line.startswith(("pytest", "hypothesis", "onnx==", "playwright")) for line in runtime)
    assert any(line.startswith("onnxruntime==") for line in pins)
    assert any(line.startswith("pytest==") for line in dev)
