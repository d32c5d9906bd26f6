"""End-to-end tests of the training scripts (``train/*.py``), run as subprocesses.

Every run uses ``--tiny`` (32 px crops, batch 2, one residual block, 8 features,
no data workers) on three T91 images, with ``cwd`` a temporary folder (``runs/``
is relative to the working directory), ``PYTHONPATH`` the checkout and
``SR_DATA_ROOT`` the real data root; skipped when that data is absent.

The runs are independent chains of processes, so they are all started at once
(one thread per chain) when the first test needs them and each test waits for
its own chain; on a busy two-core machine that keeps the file to a few minutes.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
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
KILL_ITERS = 40     # length of the kill -9 run: room for the iterations a fast machine runs between
                    # seeing the target checkpoint and the kill landing (16 was too few once: 13 -> 16)
TIMEOUT = 1500      # per process (a loaded machine gives a tiny run minutes)

pytestmark = [pytest.mark.skipif(not (T91.is_dir() and SET5.is_dir()), reason=f"training data not found under {DATA}"),
              pytest.mark.timeout(2400)]  # the tests wait for subprocesses; a busy machine makes them slow


class Runner:
    """Starts ``python -m train.<module> --tiny ...`` in one working folder."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.base = ["--tiny", "--no-progress", "--no-plot", f"--train_dirs={tiny_train_files()}"]

    def command(self, module: str, *args: str, launcher: list[str] | None = None) -> list[str]:
        base = [a for a in self.base if a != "--no-plot" or "--plot" not in args]
        return [sys.executable, *(launcher or []), "-m", f"train.{module}", *base, *args]

    def popen(self, module: str, *args: str, launcher: list[str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.command(module, *args, launcher=launcher), cwd=self.cwd, env=subprocess_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def run(self, module: str, *args: str, ok: bool = True, launcher: list[str] | None = None) -> str:
        proc = self.popen(module, *args, launcher=launcher)
        out, _ = proc.communicate(timeout=TIMEOUT)
        if ok:
            assert proc.returncode == 0, f"train.{module} {' '.join(args)} failed ({proc.returncode}):\n{out}"
        else:
            assert proc.returncode != 0, f"train.{module} {' '.join(args)} should have failed:\n{out}"
        return out

    def dir(self, name: str) -> Path:
        return self.cwd / "runs" / name


def _kill_chain(r: Runner) -> dict:
    """Start the same run with --resume three times, each killed with SIGKILL at a random moment once it has
    checkpointed 1-3 iterations of its own; then resume it to the end. Checks every state.pt left behind."""
    from sr_core.training import load_state

    args = ("--name=killed", f"--max_iters={KILL_ITERS}", "--deterministic", "--val_every=1000", "--resume")
    state = r.dir("killed") / "state.pt"
    seed = random.randrange(2 ** 32)
    rng = random.Random(seed)
    history, last_iter = [], 0
    for attempt in range(3):
        target = last_iter + rng.randint(1, 3)
        proc = r.popen("srresnet", *args)
        deadline, inode, it = time.time() + TIMEOUT, None, last_iter
        while time.time() < deadline and proc.poll() is None and it < target:
            st = state.stat() if state.exists() else None
            if st is not None and st.st_ino != inode:  # os.replace: every checkpoint is a new inode
                inode = st.st_ino
                it = int(load_state(state)["iter"])   # a torn file would raise here
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))  # somewhere in the next iteration, checkpoint write or log line
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, f"attempt {attempt} ended before the kill (seed {seed}):\n{out}"
        it = int(load_state(state)["iter"])  # never torn: load_state would raise
        assert target <= it < KILL_ITERS, (attempt, target, it, seed)
        history.append(it)
        last_iter = it
    out = r.run("srresnet", *args)
    assert f"resumed runs/killed at iteration {last_iter}" in out
    return {"kills": history, "seed": seed}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Every chain of runs, started in parallel; ``jobs[name].result()`` waits for one."""
    r = Runner(tmp_path_factory.mktemp("train_runs"))

    def swift():
        pixel = r.run("swift_srgan", "--stage=pixel", "--max_iters=2")
        gan = r.run("swift_srgan", "--stage=gan", "--max_iters=2", "--plot",
                    "--init_from=runs/swift_srgan_pixel/weights")
        return pixel, gan

    def resumed():
        r.run("srresnet", "--max_iters=2", "--name=resumed", "--deterministic")
        return r.run("srresnet", "--max_iters=4", "--name=resumed", "--deterministic", "--resume")

    chains = {  # the kill chain is the longest: submitted first
        "killed": lambda: _kill_chain(r),
        "kill_reference": lambda: r.run("srresnet", "--name=kill_reference", f"--max_iters={KILL_ITERS}",
                                        "--deterministic", "--val_every=1000"),
        "srgan": lambda: r.run("srgan", "--max_iters=4", "--name=srgan", "--deterministic", "--snapshots"),
        "srgan_resumed": lambda: (r.run("srgan", "--max_iters=4", "--stop_at=2", "--name=srgan_resumed",
                                        "--deterministic"),
                                  r.run("srgan", "--max_iters=4", "--name=srgan_resumed", "--deterministic",
                                        "--resume")),
        "swift": swift,
        "srcnn": lambda: r.run("srcnn", "--max_iters=2", "--name=srcnn"),
        "straight": lambda: r.run("srresnet", "--max_iters=4", "--name=straight", "--deterministic", "--plot"),
        "resumed": resumed,
        "torchrun": lambda: r.run("srresnet", "--max_iters=3", "--name=ddp",
                                  launcher=["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]),
    }
    pool = ThreadPoolExecutor(max_workers=len(chains))
    futures = {name: pool.submit(fn) for name, fn in chains.items()}
    futures["runner"] = r
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "weights" / "model.safetensors"))


def _assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ: {different}"


def _check_run(run_dir: Path, iters: int, plot: bool = False) -> dict:
    """The files every run writes, and a loadable, working generator."""
    from sr_core import load_model
    from sr_core.training import load_state

    state = load_state(run_dir / "state.pt")
    assert state["iter"] == iters
    assert {"generator", "opt_g", "sched_g", "rng"} <= state.keys()
    rows = _metrics(run_dir)
    assert [r["iter"] for r in rows if r["kind"] == "train"] == list(range(1, iters + 1))
    val = [r for r in rows if r["kind"] == "val"]
    assert val and val[-1]["iter"] == iters and 0 < val[-1]["psnr"] < 100
    assert sorted(p.name for p in (run_dir / "grids").glob("*.png"))[-1] == f"{iters:07d}.png"
    assert (run_dir / "curves.png").is_file() == plot  # --no-plot except where the test asks for --plot
    if plot:
        assert (run_dir / "curves.png").stat().st_size > 1000
    cfg = json.loads((run_dir / "config.json").read_text())
    model = load_model(run_dir / "weights")
    assert model.config["iterations"] == iters
    out = model(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    return {"state": state, "rows": rows, "config": cfg, "model": model}


# --- each experiment end to end -------------------------------------------------------------------

def test_srresnet_tiny(jobs, monkeypatch):
    jobs["straight"].result()  # the uninterrupted run of the resume test: 4 iterations, deterministic
    r = jobs["runner"]
    run = _check_run(r.dir("straight"), 4, plot=True)
    assert run["config"]["config"]["crop_size"] == 32 and run["config"]["generator"]["hparams"]["num_blocks"] == 1
    assert [row["iter"] for row in run["rows"] if row["kind"] == "val"] == [2, 4]  # --tiny: val_every=2
    # starting again without --resume would throw the run away: refused (before any training or data loading)
    from train.config import parse_overrides
    from train.loop import run as train_run
    from train.srresnet import SRResNetConfig

    monkeypatch.chdir(r.cwd)
    cfg = parse_overrides(SRResNetConfig(), ["--tiny", "--name=straight", "--max_iters=4"])
    with pytest.raises(SystemExit, match="--resume .* --overwrite"):
        train_run(cfg)


def test_srgan_tiny(jobs):
    jobs["srgan"].result()
    run = _check_run(jobs["runner"].dir("srgan"), 4)
    state = run["state"]
    assert {"discriminator", "opt_d", "sched_d"} <= state.keys()
    train = [r for r in run["rows"] if r["kind"] == "train"]
    assert {"loss_g", "loss_d", "g_adv", "g_content", "d_real", "d_fake"} <= train[-1].keys()
    cfg = run["config"]["config"]
    assert cfg["stage"] == "gan" and cfg["schedule"] == "step" and cfg["adv_weight"] == 1e-3
    assert cfg["init_from"] == ""  # --tiny: the shipped SRResNet does not fit the tiny generator
    # step schedule, counted in iterations: 1e-4 for iterations 1-2, 1e-5 from max_iters // 2 = 2 on (the logged
    # lr is the one the next iteration uses)
    assert [row["lr"] for row in train] == pytest.approx([1e-4, 1e-5, 1e-5, 1e-5])
    assert not any("depthwise" in k for k in state["discriminator"])


def test_gan_snapshots_and_shipping_one(jobs, tmp_path, monkeypatch):
    """--snapshots keeps the weights of every validation point; train.ship --weights ships one of them, with the
    iteration, wall time and validation of that snapshot on its card (not the run's last)."""
    from safetensors.torch import load_file

    from train import ship

    jobs["srgan"].result()
    run_dir = jobs["runner"].dir("srgan")
    snaps = sorted(p.name for p in (run_dir / "snapshots").iterdir())
    assert snaps == ["0000002", "0000004"]  # --tiny validates every 2 iterations
    _assert_same_tensors(load_file(str(run_dir / "snapshots" / "0000004" / "model.safetensors")), _weights(run_dir))
    early = load_file(str(run_dir / "snapshots" / "0000002" / "model.safetensors"))
    assert any(not torch.equal(early[k], v) for k, v in _weights(run_dir).items())

    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path))
    ship.main([str(run_dir), "tiny-gan", "--weights", str(run_dir / "snapshots" / "0000002"), "--sets", "Set5"])
    shipped = json.loads((tmp_path / "tiny-gan" / "config.json").read_text())
    assert shipped["iterations"] == 2 and set(shipped["metrics"]) == {"protocol", "Set5"}
    val = [r for r in _metrics(run_dir) if r["kind"] == "val" and r["iter"] == 2][0]
    card = (tmp_path / "tiny-gan" / "README.md").read_text()
    assert f"Set5 {val['psnr']:.3f} dB at iteration 2 " in card and "--weights" in card


def test_swift_srgan_two_stages(jobs):
    jobs["swift"].result()
    r = jobs["runner"]
    pixel = _check_run(r.dir("swift_srgan_pixel"), 2)
    gan = _check_run(r.dir("swift_srgan"), 2, plot=True)
    assert pixel["config"]["generator"]["hparams"]["conv"] == "separable"
    assert "discriminator" not in pixel["state"]
    cfg = gan["config"]["config"]
    assert cfg["stage"] == "gan" and cfg["init_from"] == "runs/swift_srgan_pixel/weights"
    assert cfg["pixel_weight"] == 1.0 and cfg["tv_weight"] == 2e-8
    assert any("depthwise" in k for k in gan["state"]["discriminator"]), "discriminator must be separable"
    assert {"g_pixel", "g_tv", "g_content", "g_adv"} <= _metrics(r.dir("swift_srgan"))[0].keys()


def test_srcnn_tiny(jobs):
    jobs["srcnn"].result()
    run = _check_run(jobs["runner"].dir("srcnn"), 2)
    assert run["config"]["generator"]["arch"] == "SRCNN"
    groups = run["state"]["opt_g"]["param_groups"]
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(groups[0]["lr"] * 0.1)  # paper: 1e-5 last layer
    assert groups[0]["momentum"] == 0.9


# --- surviving interruptions ----------------------------------------------------------------------

def test_resume_is_bit_exact(jobs):
    jobs["straight"].result()
    out = jobs["resumed"].result()
    r = jobs["runner"]
    assert "resumed runs/resumed at iteration 2" in out
    straight, resumed = _check_run(r.dir("straight"), 4, plot=True), _check_run(r.dir("resumed"), 4)
    _assert_same_tensors(_weights(r.dir("straight")), _weights(r.dir("resumed")))
    _assert_same_tensors(straight["state"]["generator"], resumed["state"]["generator"])
    loss = {row["iter"]: row["loss"] for row in straight["rows"] if row["kind"] == "train"}
    assert {row["iter"]: row["loss"] for row in resumed["rows"] if row["kind"] == "train"} == loss
    assert resumed["state"]["opt_g"]["state"][0]["step"] == straight["state"]["opt_g"]["state"][0]["step"] == 4
    assert [x["iter"] for x in resumed["config"]["resumes"]] == [2]


def test_gan_resume_is_bit_exact(jobs):
    """A GAN run with the step schedule, paused with --stop_at=2 and resumed, ends where the straight run does
    (generator, discriminator, both optimisers). Changing --max_iters instead would change the schedule."""
    jobs["srgan"].result()
    first, second = jobs["srgan_resumed"].result()
    r = jobs["runner"]
    assert "stopped by --stop_at at iteration 2 of 4" in first and "resumed runs/srgan_resumed at iteration 2" in second
    straight, resumed = _check_run(r.dir("srgan"), 4), _check_run(r.dir("srgan_resumed"), 4)
    for key in ("generator", "discriminator"):
        _assert_same_tensors(straight["state"][key], resumed["state"][key])
    for key in ("opt_g", "opt_d"):
        a, b = straight["state"][key]["state"], resumed["state"][key]["state"]
        assert all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    assert resumed["config"]["resumes"][0]["changed"] == {}  # --stop_at is not a change of recipe


@pytest.mark.timeout(3600)  # the longest chain: five processes one after the other
def test_sigkill_three_times_then_resume(jobs):
    jobs["kill_reference"].result()
    info = jobs["killed"].result()
    r = jobs["runner"]
    print(f"killed at iterations {info['kills']} (random seed {info['seed']})")
    reference, killed = _check_run(r.dir("kill_reference"), KILL_ITERS), _check_run(r.dir("killed"), KILL_ITERS)
    _assert_same_tensors(reference["state"]["generator"], killed["state"]["generator"])
    _assert_same_tensors(_weights(r.dir("kill_reference")), _weights(r.dir("killed")))
    assert killed["state"]["sched_g"]["last_epoch"] == KILL_ITERS
    # every iteration logged exactly once despite the kills, with the uninterrupted run's losses
    loss = {row["iter"]: row["loss"] for row in reference["rows"] if row["kind"] == "train"}
    assert {row["iter"]: row["loss"] for row in killed["rows"] if row["kind"] == "train"} == loss
    assert not list(r.dir("killed").glob(".*.part")), "temporary checkpoint files left behind"


# --- data-parallel --------------------------------------------------------------------------------

def test_torchrun_two_processes(jobs):
    jobs["torchrun"].result()
    run_dir = jobs["runner"].dir("ddp")
    run = _check_run(run_dir, 3)
    assert run["config"]["world_size"] == 2
    sync = [row for row in run["rows"] if row["kind"] == "sync"]
    assert sync == [{"kind": "sync", "iter": 3, "in_sync": True, "world_size": 2}]


# --- configuration (in-process, no training) ------------------------------------------------------

def test_overrides_recipes_and_stage_defaults():
    from train.config import TINY, explicit_keys, parse_overrides
    from train.loop import lr_factor
    from train.srgan import RECIPES as SRGAN_RECIPES, SRGANConfig
    from train.swift_srgan import SwiftSRGANConfig

    cfg = parse_overrides(SRGANConfig(), ["--tiny", "--crop_size=48", "--no-progress"])
    assert cfg.crop_size == 48 and cfg.batch_size == TINY["batch_size"] and cfg.init_from == "" and not cfg.progress
    with pytest.raises(SystemExit):
        parse_overrides(SRGANConfig(), ["--no_such_option=1"])
    cfg = SRGANConfig(max_iters=10)
    assert [lr_factor(cfg, i) for i in (0, 4, 5, 9)] == [1.0, 1.0, 0.1, 0.1]
    # a warm restart: the schedule starts afresh at restart_at and spans restart_at..max_iters
    restarted = SRGANConfig(max_iters=20, restart_at=10, schedule="cosine", lr=1e-4, min_lr=1e-6)
    assert [lr_factor(restarted, i) for i in (10, 20)] == pytest.approx([1.0, 0.01])
    assert lr_factor(restarted, 15) == pytest.approx(lr_factor(SRGANConfig(max_iters=10, schedule="cosine",
                                                                           lr=1e-4, min_lr=1e-6), 5))
    with pytest.raises(ValueError, match="restart_at"):
        lr_factor(SRGANConfig(max_iters=10, restart_at=10, schedule="cosine"), 10)
    assert SRGAN_RECIPES["cpu"]["pixel_weight"] > 0 and SRGAN_RECIPES["paper"]["content_backbone"] == "vgg19"

    argv = ["--stage=gan", "--lr=3e-4"]
    gan = parse_overrides(SwiftSRGANConfig(), argv)
    gan.resolve(explicit_keys(argv))
    assert gan.name == "swift_srgan" and gan.init_from == "runs/swift_srgan_pixel/weights" and gan.lr == 3e-4
    pixel = SwiftSRGANConfig()
    pixel.resolve(set())
    assert pixel.name == "swift_srgan_pixel" and pixel.init_from == "" and pixel.loss == "mse"


