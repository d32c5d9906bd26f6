"""Resume is bit-exact with the schedules and recipes that ship, not only the paper's constant-rate default.

``tests/test_train.py`` checks a constant-rate SRResNet run and a step-schedule SRGAN run. Here, with
``--tiny --deterministic`` runs started as subprocesses (as there):

* ``train.srcnn --recipe=cpu``: the shipped SRCNN recipe, cosine decay;
* ``train.swift_srgan --recipe=cpu-gan``: the shipped Swift-SRGAN GAN stage (separable convs, step schedule
  whose 10x drop falls at the pause);
* ``train.srresnet --recipe=cpu`` continued with ``--resume --restart_at`` (a warm restart of the cosine
  schedule, how the shipped srresnet's last 2,800 iterations were trained), paused inside the restarted
  schedule.

Each one is paused with ``--stop_at`` and resumed with ``--resume``, and must end exactly where the same run
without the pause ends: weights, optimiser and scheduler state, every logged loss and learning rate. The runs
are a few iterations long (the fewest that put a schedule change after the pause).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from conftest import subprocess_env, tiny_train_files

from sr_core import config

REPO = Path(__file__).resolve().parents[1]
DATA = config.data_root()
T91 = DATA / "sr_train" / "T91"
SET5 = DATA / "sr_benchmark" / "Set5" / "HR"
TIMEOUT = 1500  # per process (a loaded machine gives a tiny run minutes)

pytestmark = [pytest.mark.skipif(not (T91.is_dir() and SET5.is_dir()), reason=f"training data not found under {DATA}"),
              pytest.mark.timeout(2400)]


class Runner:
    """Runs ``python -m train.<module> --tiny --deterministic ...`` in one working folder."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.base = ["--tiny", "--deterministic", "--no-progress", "--no-plot", f"--train_dirs={tiny_train_files()}"]

    def run(self, module: str, *args: str) -> str:
        cmd = [sys.executable, "-m", f"train.{module}", *self.base, *args]
        proc = subprocess.run(cmd, cwd=self.cwd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, f"train.{module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}"
        return proc.stdout

    def dir(self, name: str) -> Path:
        return self.cwd / "runs" / name


def _paused(r: Runner, module: str, name: str, stop_at: int, *args: str) -> tuple[str, str]:
    first = r.run(module, f"--name={name}", f"--stop_at={stop_at}", *args)
    second = r.run(module, f"--name={name}", "--resume", *args)
    return first, second


SRCNN = ("--recipe=cpu", "--max_iters=4")
SWIFT_GAN = ("--recipe=cpu-gan", "--init_from=", "--max_iters=4")
WARM = ("--recipe=cpu", "--resume", "--max_iters=4", "--restart_at=2")  # continues a finished 2-iteration run


def _warm_restart(r: Runner) -> tuple[str, str, str]:
    """A finished 2-iteration cosine run, continued to 4 with a warm restart at 2: once straight, once paused
    at 3 and resumed (both from copies of the same finished run)."""
    r.run("srresnet", "--name=warm_base", "--recipe=cpu", "--max_iters=2")
    for name in ("warm_straight", "warm_paused"):
        shutil.copytree(r.dir("warm_base"), r.dir(name))
    straight = r.run("srresnet", "--name=warm_straight", *WARM)
    return (straight, *_paused(r, "srresnet", "warm_paused", 3, *WARM))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    r = Runner(tmp_path_factory.mktemp("resume_runs"))
    chains = {
        "warm": lambda: _warm_restart(r),  # the longest chain: submitted first
        "srcnn_straight": lambda: r.run("srcnn", "--name=srcnn_straight", *SRCNN),
        "srcnn_paused": lambda: _paused(r, "srcnn", "srcnn_paused", 2, *SRCNN),
        "swift_straight": lambda: r.run("swift_srgan", "--name=swift_straight", *SWIFT_GAN),
        "swift_paused": lambda: _paused(r, "swift_srgan", "swift_paused", 2, *SWIFT_GAN),
    }
    pool = ThreadPoolExecutor(max_workers=3)  # two cores: more processes at once only spin against each other
    futures = {name: pool.submit(fn) for name, fn in chains.items()}
    futures["runner"] = r
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _train_rows(run_dir: Path) -> dict[int, dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {row["iter"]: {k: v for k, v in row.items() if k not in ("time", "it_per_s")}
            for row in rows if row["kind"] == "train"}


def _same(a, b, where: str = "") -> None:
    """Nested state dicts / lists / tensors are exactly equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), f"differs at {where}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"keys differ at {where}: {a.keys()} vs {b.keys()}"
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"lengths differ at {where}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"differs at {where}: {a!r} vs {b!r}"


def _assert_bit_exact(straight_dir: Path, paused_dir: Path, iters: int, gan: bool = False) -> dict[int, dict]:
    from safetensors.torch import load_file

    from sr_core.training import load_state

    a, b = load_state(straight_dir / "state.pt"), load_state(paused_dir / "state.pt")
    assert a["iter"] == b["iter"] == iters
    keys = ["generator", "opt_g", "sched_g"] + (["discriminator", "opt_d", "sched_d"] if gan else [])
    for key in keys:
        _same(a[key], b[key], key)
    wa = load_file(str(straight_dir / "weights" / "model.safetensors"))
    wb = load_file(str(paused_dir / "weights" / "model.safetensors"))
    _same(wa, wb, "weights")
    rows = _train_rows(straight_dir)
    assert sorted(rows) == list(range(1, iters + 1))
    assert _train_rows(paused_dir) == rows  # every loss and lr, each iteration logged once
    return rows


def test_srcnn_cosine_resume_is_bit_exact(runs):
    runs["srcnn_straight"].result()
    first, second = runs["srcnn_paused"].result()
    r = runs["runner"]
    assert "at iteration 2 of 4" in first and "resumed runs/srcnn_paused at iteration 2" in second
    rows = _assert_bit_exact(r.dir("srcnn_straight"), r.dir("srcnn_paused"), 4)
    lrs = [rows[i]["lr"] for i in range(1, 5)]
    assert lrs == sorted(lrs, reverse=True) and lrs[0] > lrs[-1], lrs  # really the cosine decay, across the pause


def test_swift_srgan_gan_resume_is_bit_exact(runs):
    runs["swift_straight"].result()
    first, second = runs["swift_paused"].result()
    r = runs["runner"]
    assert "at iteration 2 of 4" in first and "resumed runs/swift_paused at iteration 2" in second
    rows = _assert_bit_exact(r.dir("swift_straight"), r.dir("swift_paused"), 4, gan=True)
    assert len({rows[i]["lr"] for i in rows}) == 2  # the step schedule's drop is inside the run


def test_warm_restart_resume_is_bit_exact(runs):
    straight, first, second = runs["warm"].result()
    r = runs["runner"]
    assert "resumed runs/warm_straight at iteration 2" in straight
    assert "at iteration 3 of 4" in first and "resumed runs/warm_paused at iteration 3" in second
    rows = _assert_bit_exact(r.dir("warm_straight"), r.dir("warm_paused"), 4)
    # the warm restart really happened: the rate jumps back up after the finished run's decay
    assert rows[3]["lr"] > rows[2]["lr"] and rows[3]["lr"] > rows[4]["lr"], {i: rows[i]["lr"] for i in rows}
