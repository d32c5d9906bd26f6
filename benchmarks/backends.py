"""The light install (ONNX Runtime) against torch, in one run, as ratios: start-up, end to end, Mpx/s, size.

    python -m benchmarks.backends --out reports/backends                     # on a quiet machine
    python -m benchmarks.backends --baseline a35a84f --light-venv /tmp/light-venv --out reports/backends

* ``startup``: ``sr-core --version`` in fresh processes: the light install (torch unimportable), this
  checkout with torch installed, and ``--baseline REV`` (that commit's ``sr_core``, before the light install:
  its ``--version`` imported torch).
* ``cli``: ``sr-core upscale photo.jpg`` (the default model, real at detail 0.5, ``--threads``) on a
  ``--sizes`` photo in fresh processes: light (ONNX Runtime), ``--backend torch`` (bfloat16 where the CPU has
  it, as ``--dtype auto``), ``auto`` (torch installed, the backend ``sr_core.backends.pick_backend`` picks for
  the photo's size) and the baseline's CLI.
* ``speed``: output Mpx/s of ``--models`` in one process on a ``--speed-size`` photo (one tile), best of
  ``--repeats``: torch float32 and bfloat16 (``upscale_tensor``), ONNX Runtime with the shipped graph (float16
  weights, float32 compute), a float32-weights graph, and graph optimisation levels (the first model only).
* ``size``: installed size of ``--light-venv`` (``pip install .``) and of this environment (the torch
  extra), from the distributions' RECORDs (``benchmarks.install_size``).

``--light-venv``: the light runs use that venv's ``sr-core``; without it, this interpreter with torch and the
rest of the extra made unimportable (a meta-path finder, as tests/test_light.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCKER = """import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, NoTorch())
"""


def _commands(tmp: Path, light_venv: Path | None, baseline: str | None) -> dict[str, tuple[list[str], dict]]:
    """``label -> (command prefix, environment)`` for the CLI variants measured."""
    from sr_core.backends import TORCH_MODULES

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SR_WEIGHTS_DIR")}
    out = {}
    if light_venv:
        out["light"] = ([str(light_venv / "bin" / "sr-core")], dict(env))
    else:
        site = tmp / "blocker"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(BLOCKER.format(BLOCKED=sorted(TORCH_MODULES | {"onnx"})))
        out["light"] = ([sys.executable, "-m", "sr_core"], {**env, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"})
    out["torch"] = ([sys.executable, "-m", "sr_core"], {**env, "PYTHONPATH": str(REPO)})
    out["auto"] = out["torch"]  # the same install, --backend auto: what a user with both gets
    if baseline:
        base = tmp / "baseline"
        base.mkdir(exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", baseline, "sr_core"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        out[f"baseline {baseline}"] = ([sys.executable, "-m", "sr_core"],
                                       {**env, "PYTHONPATH": str(base), "SR_WEIGHTS_DIR": str(REPO / "weights")})
    return out


def _wall(cmd: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - start


def startup_and_cli(args, tmp: Path) -> dict:
    from .memory import test_photo

    cmds = _commands(tmp, args.light_venv, args.baseline)
    res = {"startup": {k: [] for k in cmds}, "cli": {}}
    for _ in range(args.repeats):  # interleaved rounds: a busy machine slows every variant alike
        for label, (cmd, env) in cmds.items():
            res["startup"][label].append(_wall(cmd + ["--version"], env, tmp))
    for size in args.sizes:
        photo, source = test_photo(size)
        src = tmp / f"photo{size}.jpg"
        photo.save(src, quality=92)
        row = res["cli"][str(size)] = {"photo": source, "seconds": {k: [] for k in cmds}}
        for _ in range(args.repeats):
            for label, (cmd, env) in cmds.items():
                extra = ["--backend", "torch"] if label == "torch" else []
                row["seconds"][label].append(_wall(cmd + ["upscale", str(src), "-o", str(tmp / "out.png"),
                                                          "--overwrite", "--no-progress", "--threads",
                                                          str(args.threads), *extra], env, tmp))
    return res


def speed(args, tmp: Path) -> dict:
    import numpy as np
    import torch

    from sr_core import load_model, upscale_tensor
    from sr_core.backends import OnnxModel, _read_config, load_onnx
    from sr_core.export import export_shipped
    from sr_core.io import to_array

    from .memory import test_photo

    torch.set_num_threads(args.threads)
    photo, source = test_photo(args.speed_size)
    x = to_array(photo)
    mpx = x.shape[2] * x.shape[3] * 16 / 1e6
    rows = {}
    for i, name in enumerate(args.models):
        model = load_model(name)
        folder = REPO / "weights" / name
        fp32 = OnnxModel(export_shipped(name, tmp / f"{name}32.onnx", float16=False), _read_config(folder),
                         args.threads)
        runs = {"torch float32": lambda: upscale_tensor(model, torch.from_numpy(x), tile=0),
                "torch bfloat16": lambda: upscale_tensor(model, torch.from_numpy(x), tile=0, dtype="bfloat16"),
                "onnx (shipped: float16 weights)": lambda m=load_onnx(name, 1.0 if name == "real" else None,
                                                                      args.threads): m(x),
                "onnx float32 weights": lambda: fp32(x)}
        if i == 0:
            for level in ("disable", "basic", "extended"):
                m = OnnxModel(folder / "model.onnx", _read_config(folder), args.threads, optimization=level)
                runs[f"onnx optimisation={level}"] = lambda m=m: m(x)
        best = {k: [] for k in runs}
        for k, fn in runs.items():
            fn()  # warm-up (first-call allocations, oneDNN primitive creation)
        for _ in range(args.repeats):
            for k, fn in runs.items():
                start = time.perf_counter()
                fn()
                best[k].append(time.perf_counter() - start)
        rows[name] = {k: round(mpx / min(v), 3) for k, v in best.items()}
        ref = runs["torch float32"]().numpy()
        rows[name]["onnx max diff /255"] = round(float(np.abs(runs["onnx (shipped: float16 weights)"]() - ref).max()
                                                       * 255), 3)
    return {"photo": source, "input": f"{args.speed_size}x{args.speed_size}", "output_mpx": round(mpx, 3),
            "mpx_per_s": rows}


def sizes(args) -> dict:
    from .install_size import PROBE

    out = {}
    for label, python in (("light (pip install .)", args.light_venv / "bin" / "python"),
                          ("this environment (requirements-dev.txt: [torch] + tests)", Path(sys.executable))):
        res = json.loads(subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=True).stdout)
        out[label] = {"site_packages_bytes": res["site_packages_bytes"], "torch": res["torch"]}
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def markdown(res: dict) -> str:
    lines = ["# Light install (ONNX Runtime) against torch", "",
             f"Conditions: {res['note']}", "", f"`{res['command']}` ({res['machine'].get('cpu', '?')}, "
             f"{res['threads']} threads)", ""]
    if "startup" in res:
        best = {k: min(v) for k, v in res["startup"].items()}
        lines += ["## Start-up: `sr-core --version`, best of the rounds", "", "| CLI | seconds | vs light |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {v:.2f} | {_ratio(v, best['light'])} |" for k, v in best.items()]
        lines += ["", "## End to end: `sr-core upscale photo.jpg` (real, detail 0.5), best of the rounds", "",
                  "| photo | " + " | ".join(f"{k} s" for k in best) + " | light speed-up vs each |",
                  "|---|" + "---:|" * (len(best) + 1)]
        for size, row in res["cli"].items():
            sec = {k: min(v) for k, v in row["seconds"].items()}
            ups = ", ".join(f"{_ratio(v, sec['light'])} vs {k}" for k, v in sec.items() if k != "light")
            lines.append(f"| {size} px | " + " | ".join(f"{v:.2f}" for v in sec.values()) + f" | {ups} |")
    if "speed" in res:
        sp = res["speed"]
        cols = list(next(iter(sp["mpx_per_s"].values())))
        lines += ["", f"## Output Mpx/s, one process, {sp['input']} photo in one tile (best of the rounds)", "",
                  "| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for name, row in sp["mpx_per_s"].items():
            lines.append(f"| `{name}` | " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    if "size" in res:
        lines += ["", "## Installed size (site-packages)", "", "| environment | torch | GB |", "|---|---|---:|"]
        lines += [f"| {k} | {v['torch']} | {v['site_packages_bytes'] / 1e9:.2f} |" for k, v in res["size"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="reports/backends")
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[384, 1024, 2048])
    parser.add_argument("--speed-size", type=int, default=256, help="photo side for the Mpx/s runs (one tile)")
    parser.add_argument("--models", type=lambda s: s.split(","), default=["fast", "real", "srresnet"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="a commit whose sr_core is today's torch CLI")
    parser.add_argument("--light-venv", type=Path, default=None, help="a venv with the light install")
    parser.add_argument("--parts", default="cli,speed,size")
    parser.add_argument("--note", default="nothing else running")
    args = parser.parse_args(argv)
    from benchmarks.hardware import machine_info

    from .report import write_report

    parts = args.parts.split(",")
    res = {"command": "python -m benchmarks.backends " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "threads": args.threads, "note": args.note}
    with tempfile.TemporaryDirectory() as tmp:
        if "cli" in parts:
            res.update(startup_and_cli(args, Path(tmp)))
        if "speed" in parts:
            res["speed"] = speed(args, Path(tmp))
    if "size" in parts and args.light_venv:
        res["size"] = sizes(args)
    write_report(args.out, "backends", res, markdown(res))
    return res


if __name__ == "__main__":
    main()
