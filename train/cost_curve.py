"""Set5 PSNR against CPU-hours of training: a run of ours next to srresnet's own history.

    python -m train.cost_curve runs/fast_s1 runs/fast_s2 --out reports/cost_curve

Several runs are one lineage, in order: each continued from the previous one's shipped weights
(``--init_from``), so its CPU-hours are counted on top of the previous run's total. Run folders are not kept
across machines (``runs/`` is not in git): ``--after reports/cost_curve/cost_curve.json`` starts the lineage
with the points of an earlier report instead, and counts the runs given on top of that report's total
(``total_cpu_hours``; a report written before that field existed: its last point's).

    python -m train.cost_curve runs/fast_s4 --after reports/cost_curve/cost_curve.json --out reports/cost_curve

A stretch on a GPU (``train/lease.sh``) costs no CPU-hours: ``--gpu RUN`` adds it after the CPU runs as one point
at the lineage's CPU-hours, labelled with its GPU-minutes (the last logged training time) and the Set5 PSNR of
``RUN/weights`` measured here, on the CPU, when the command runs (its in-run validation is not used).

    python -m train.cost_curve --after reports/cost_curve/cost_curve.json --gpu runs/fast_gpu --out reports/cost_curve

The run's points are its validation rows (``metrics.jsonl``: Set5 Y-PSNR of the exported weights, EMA where the
run keeps one) at the training time logged at the same iteration, times the torch threads it ran with
(``config.json``, whose ``resumes`` record where a resume changed them; 0 means torch's default, the machine's
usable cores). srresnet's points are the shipped
``weights/srresnet/config.json`` at every commit that changed it (``git log``): its Set5 PSNR measured by
``train.ship`` and the wall time of the run that produced it, accumulated over its runs. Writes
``cost_curve.json``, ``cost_curve.md`` and ``cost_curve.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

from .records import read_metrics


def _threads_by_segment(cfg: dict) -> list[tuple[int, int]]:
    """``[(from_iter, threads), ...]``: the torch threads of each stretch of a run resumed with other settings."""
    default = len(os.sched_getaffinity(0))
    current = cfg["config"].get("threads") or default
    segments = []
    for resume in reversed(cfg.get("resumes", [])):
        change = resume.get("changed", {}).get("threads")
        if change:
            segments.append((resume["iter"], change[1] or default))
            current = change[0] or default
    segments.append((0, current))
    return sorted(segments)


def _cpu_at(run: Path) -> tuple[dict[int, tuple[float, float]], list[dict], list]:
    """``{iteration: (CPU-seconds, wall seconds)}`` at every logged training row (wall time of each stretch times
    the torch threads it ran with), the metrics rows, and the thread segments."""
    cfg = json.loads((run / "config.json").read_text())
    segments = _threads_by_segment(cfg)
    rows = read_metrics(run / "metrics.jsonl")
    cpu_s, last_t, cpu_at = 0.0, 0.0, {}
    for r in sorted((r for r in rows if r.get("kind") == "train"), key=lambda r: r["iter"]):
        threads = [t for start, t in segments if start < r["iter"]][-1]
        cpu_s += max(r["time"] - last_t, 0.0) * threads
        last_t = r["time"]
        cpu_at[r["iter"]] = (cpu_s, r["time"])
    return cpu_at, rows, segments


def cpu_seconds(run: Path, upto: float = float("inf")) -> tuple[float, float]:
    """(CPU-seconds, wall seconds) of a run's training up to iteration ``upto``."""
    cpu_at, _, _ = _cpu_at(run)
    done = [i for i in cpu_at if i <= upto]
    return cpu_at[max(done)] if done else (0.0, 0.0)


def run_points(run: Path) -> dict:
    cpu_at, rows, segments = _cpu_at(run)
    cfg = json.loads((run / "config.json").read_text())
    points = [{"iter": r["iter"], "cpu_hours": round(cpu_at[r["iter"]][0] / 3600, 4),
               "wall_hours": round(cpu_at[r["iter"]][1] / 3600, 4), "set5_psnr": round(r["psnr"], 3)}
              for r in rows if r.get("kind") == "val" and r["iter"] in cpu_at]
    return {"run": str(run), "threads": segments, "model": cfg["config"].get("model"), "points": points}


def lineage_points(runs: list[Path], after: dict | None = None) -> dict:
    """``run_points`` of runs that continue one another, CPU- and wall-hours accumulated across them; ``after``: an
    earlier lineage (a ``cost_curve.json`` entry) that these runs continue."""
    merged, cpu0, wall0 = None, 0.0, 0.0
    if after is not None:
        last = after["points"][-1]
        cpu0 = after.get("total_cpu_hours", last["cpu_hours"])
        wall0 = after.get("total_wall_hours", last["wall_hours"])
        merged = {**after, "runs": list(after["runs"]), "points": list(after["points"])}
    for run in runs:
        part = run_points(run)
        points = [{**p, "cpu_hours": round(p["cpu_hours"] + cpu0, 4), "wall_hours": round(p["wall_hours"] + wall0, 4),
                   "run": str(run)} for p in part["points"]]
        cpu_s, wall_s = cpu_seconds(run)
        cpu0, wall0 = cpu0 + cpu_s / 3600, wall0 + wall_s / 3600
        if merged is None:
            merged = {**part, "runs": [str(run)], "points": points}
        else:
            merged["runs"].append(str(run))
            merged["points"] += points
    merged["run"] = ",".join(merged["runs"])
    merged["total_cpu_hours"], merged["total_wall_hours"] = round(cpu0, 4), round(wall0, 4)
    return merged


def gpu_point(run: Path, after: dict) -> dict:
    """The point of a GPU stretch that continued ``after``'s lineage: its weights' Set5 PSNR (measured now) at the
    lineage's CPU-hours, with the GPU-minutes it trained and the iterations it added."""
    from sr_core import config as sr_config
    from sr_core import load_model
    from sr_core.data import load_eval_set
    from sr_core.metrics import evaluate

    rows = [r for r in read_metrics(run / "metrics.jsonl") if r.get("kind") == "train"]
    cfg = json.loads((run / "weights" / "config.json").read_text())
    model = load_model(run / "weights")
    psnr = evaluate(model, load_eval_set(sr_config.benchmark_dir("Set5"), cfg["scale"]), cfg["scale"])["psnr"]
    last = after["points"][-1]
    return {"run": str(run), "iter": last["iter"] + int(cfg["iterations"]), "iterations_added": int(cfg["iterations"]),
            "cpu_hours": after.get("total_cpu_hours", last["cpu_hours"]),
            "gpu_minutes": round(max((r["time"] for r in rows), default=0.0) / 60, 2),
            "batch_size": cfg.get("training", {}).get("batch_size"), "set5_psnr": round(psnr, 3)}


def srresnet_history(repo: Path, path: str = "weights/srresnet/config.json") -> dict:
    commits = subprocess.run(["git", "log", "--reverse", "--format=%h", "--", path], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.split()
    points, total = [], 0.0
    for commit in commits:
        cfg = json.loads(subprocess.run(["git", "show", f"{commit}:{path}"], cwd=repo, capture_output=True,
                                        text=True, check=True).stdout)
        seconds = cfg.get("train_seconds")
        set5 = (cfg.get("metrics") or {}).get("Set5", {}).get("psnr")
        if seconds is None or set5 is None:
            continue
        threads = cfg.get("training", {}).get("threads") or 2  # 0: torch's default, both cores of these machines
        total += seconds * threads / 3600
        points.append({"commit": commit, "iter": cfg.get("iterations"), "cpu_hours": round(total, 4),
                       "run_threads": threads, "set5_psnr": set5})
    return {"source": f"git log -- {path}", "points": points}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="*", help="run folders (metrics.jsonl, config.json), in the order "
                        "they continued one another")
    parser.add_argument("--gpu", type=Path, action="append", default=[],
                        help="a GPU run (weights/, metrics.jsonl) that continued the lineage, measured here")
    parser.add_argument("--out", type=Path, default=Path("reports/cost_curve"))
    parser.add_argument("--label", default="")
    parser.add_argument("--after", type=Path, default=None,
                        help="an earlier cost_curve.json whose lineage the runs continue (its run folders gone)")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if not args.run and not (args.after and args.gpu):
        parser.error("give run folders, or --after REPORT with --gpu RUN")
    first = args.run[0] if args.run else args.gpu[0]
    label = args.label or json.loads((first / "config.json").read_text())["config"].get("model")
    earlier = json.loads(args.after.read_text()) if args.after else None
    if earlier is not None and label not in earlier:
        raise SystemExit(f"--after {args.after}: no {label!r} lineage in it (has {', '.join(earlier)})")
    ours = lineage_points(args.run, earlier[label] if earlier else None)
    gpu_runs = [str(g) for g in args.gpu]
    for run in args.gpu:  # GPU stretches: one point each, no CPU-hours
        ours.setdefault("gpu", []).append(gpu_point(run, ours))
        ours["points"].append({**ours["gpu"][-1], "gpu": True})
    base = srresnet_history(repo)
    command = "python -m train.cost_curve " + " ".join([*map(str, args.run), *(f"--gpu {g}" for g in gpu_runs)])
    if earlier is not None:  # the whole chain of commands behind the points
        command = f"{earlier['command'].split(' --out ')[0]}; then {command} --after {args.after}"
    res = {"command": f"{command} --out {args.out}", label: ours, "srresnet": base}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost_curve.json").write_text(json.dumps(res, indent=1) + "\n")

    def first_at_least(points, target):
        return next((p for p in points if p["set5_psnr"] >= target), None)

    lines = [f"# Set5 PSNR per CPU-hour: {label} and srresnet", "", f"Command: `{res['command']}`. "
             "CPU-hours = wall time x torch threads; Set5 Y-PSNR, Pillow-bicubic LR. srresnet's points are its "
             "shipped weights at each commit (`git log -- weights/srresnet/config.json`).", "",
             "| model | iterations | CPU-hours | Set5 PSNR |", "|---|---:|---:|---:|"]
    for p in base["points"]:
        lines.append(f"| srresnet ({p['commit']}) | {p['iter']} | {p['cpu_hours']:.2f} | {p['set5_psnr']:.2f} |")
    step = max(1, len(ours["points"]) // 12)
    shown = ours["points"][::step] + ([ours["points"][-1]] if ours["points"][-1:] != ours["points"][::step][-1:]
                                      else [])
    for p in shown:
        gpu = f" + {p['gpu_minutes']:.1f} GPU-minutes" if p.get("gpu") else ""
        lines.append(f"| {label} | {p['iter']} | {p['cpu_hours']:.2f}{gpu} | {p['set5_psnr']:.2f} |")
    lines.append("")
    for g in ours.get("gpu", []):
        lines.append(f"- GPU stretch `{g['run']}`: {g['iterations_added']:,} iterations at batch {g['batch_size']} in "
                     f"{g['gpu_minutes']:.1f} minutes on a GPU (no CPU-hours), Set5 {g['set5_psnr']:.3f} dB, "
                     f"measured on this machine's CPU by this command.")
    for p in base["points"]:
        hit = first_at_least(ours["points"], p["set5_psnr"])
        lines.append(f"- srresnet's {p['set5_psnr']:.2f} dB took it {p['cpu_hours']:.2f} CPU-hours; {label} "
                     + (f"reached it after {hit['cpu_hours']:.2f} CPU-hours"
                        + (f" + {hit['gpu_minutes']:.1f} GPU-minutes" if hit.get("gpu") else "")
                        + f" (iteration {hit['iter']})." if hit
                        else "has not reached it in this run."))
    (args.out / "cost_curve.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    cpu_pts = [p for p in ours["points"] if not p.get("gpu")]
    ax.plot([p["cpu_hours"] for p in cpu_pts], [p["set5_psnr"] for p in cpu_pts], "-", label=label)
    for g in ours.get("gpu", []):
        ax.plot([g["cpu_hours"]], [g["set5_psnr"]], "*", markersize=12,
                label=f"{label} + {g['gpu_minutes']:.1f} GPU-minutes")
    ax.plot([p["cpu_hours"] for p in base["points"]], [p["set5_psnr"] for p in base["points"]], "o-",
            label="srresnet (shipped, per commit)")
    ax.set_xlabel("CPU-hours of training (wall x threads)")
    ax.set_ylabel("Set5 Y-PSNR (dB)")
    ax.set_ylim(bottom=max(28.0, min(p["set5_psnr"] for p in ours["points"]) - 0.2))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "cost_curve.png", dpi=100)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
