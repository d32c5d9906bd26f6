"""What a training run leaves behind besides its weights: ``config.json`` (the resolved config, argv and one
entry per resume), ``metrics.jsonl`` rows, the validation grids and ``curves.png``; and the helper that keeps
machine-specific paths out of committed reports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import torch

from sr_core.io import atomic_write
from sr_core.nets import count_parameters


def without_machine_paths(report: dict, data_root: str | Path | None = None) -> dict:
    """``report`` (JSON-able) with paths below the working folder made relative to it, and the data root (if
    given) written relative to it, so a committed report or config holds no machine-specific prefix."""
    text = json.dumps(report)
    if data_root is not None:
        root = Path(data_root).resolve()
        text = text.replace(str(root), os.path.relpath(root))
    return json.loads(text.replace(str(Path.cwd().resolve()) + "/", ""))


def save_grid(model, pairs, path: Path, scale: int, size: int = 96) -> None:
    """LR (nearest) | bicubic | SR | HR, centre crops of each validation image, one row per image."""
    from PIL import Image

    from sr_core.inference import upscale_tensor
    from sr_core.io import to_image
    from sr_core.resize import resize

    rows = []
    was_training = model.training
    model.eval()  # BatchNorm: running statistics, and the grid's crops must not update them
    try:
        for _, lr, hr in pairs:
            h, w = hr.shape[-2:]
            s = min(size, h, w) // scale * scale
            y, x = (h - s) // 2 // scale * scale, (w - s) // 2 // scale * scale
            lr_c = lr[..., y // scale:(y + s) // scale, x // scale:(x + s) // scale]
            views = [resize(lr_c, (s, s), "nearest"), resize(lr_c, (s, s), "bicubic"),
                     upscale_tensor(model, lr_c, tile=0), hr[..., y:y + s, x:x + s]]
            rows.append(torch.cat([v.clamp(0, 1) for v in views], dim=3))
    finally:
        model.train(was_training)
    width = max(r.shape[-1] for r in rows)
    grid = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[-1])) for r in rows], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_image(grid).resize((grid.shape[-1] * 2, grid.shape[-2] * 2), Image.NEAREST).save(path)


def read_metrics(path: Path) -> list[dict]:
    """Rows of a metrics.jsonl; a line torn by a kill is skipped."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def plot_curves(run_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir / "metrics.jsonl")
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    probs = ("d_real", "d_fake")
    gan = any(k in r for r in train for k in probs)
    fig, axes = plt.subplots(1, 3 if gan else 2, figsize=(16 if gan else 11, 4))
    for key in sorted({k for r in train for k in r} - {"kind", "iter", "lr", "time", "it_per_s", *probs}):
        pts = [(r["iter"], r[key]) for r in train if isinstance(r.get(key), (int, float)) and r[key] > 0]
        if pts:
            axes[0].plot(*zip(*pts), label=key)
    axes[0].set(xlabel="iteration", ylabel="loss", title="training losses (running means)", yscale="log")
    if axes[0].lines:
        axes[0].legend(fontsize="small")
    if val:
        axes[1].plot([r["iter"] for r in val], [r["psnr"] for r in val], marker="o")
    axes[1].set(xlabel="iteration", ylabel="Y-PSNR (dB)", title=f"validation PSNR ({val[-1]['set'] if val else ''})")
    if gan:
        for key in probs:
            axes[2].plot([r["iter"] for r in train if key in r], [r[key] for r in train if key in r], label=key)
        axes[2].set(xlabel="iteration", ylabel="mean sigmoid(D)", title="discriminator outputs", ylim=(0, 1))
        axes[2].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    plt.close(fig)


def write_text_atomic(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def append_row(path: Path, row: dict) -> None:
    """One ``metrics.jsonl`` row."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def start_records(cfg, run_dir: Path, generator: torch.nn.Module, world: int, resumed: bool, start: int
                  ) -> None:
    """Write ``config.json`` (a resume adds an entry with the settings it changed) and start ``metrics.jsonl``
    afresh, or on a resume drop the rows logged after the checkpoint it resumes from."""
    metrics_path = run_dir / "metrics.jsonl"
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*run_dir.glob(".*.part"), *(run_dir / "weights").glob(".*.part")]:
        stale.unlink(missing_ok=True)  # temp files of a killed checkpoint write
    info = {"config": dataclasses.asdict(cfg), "argv": sys.argv, "world_size": world,
            "generator": {"arch": type(generator).__name__, "hparams": generator.hparams,
                          "parameters": count_parameters(generator)}}
    old = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").is_file() else {}
    if resumed:
        ignore = {"resume", "progress", "overwrite", "device", "workers", "stop_at", "plot"}
        changed = {k: [old.get("config", {}).get(k), v] for k, v in json.loads(json.dumps(info["config"])).items()
                   if k not in ignore and old.get("config", {}).get(k, v) != v}
        info["resumes"] = old.get("resumes", []) + [{"iter": start, "argv": sys.argv, "changed": changed}]
        if changed:
            print(f"warning: resuming {run_dir} with changed settings {changed}", flush=True)
        # drop what was logged after the checkpoint we resume from (and any line torn by a kill)
        rows = [r for r in read_metrics(metrics_path) if r.get("iter", 0) <= start]
        write_text_atomic(metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
        print(f"resumed {run_dir} at iteration {start}", flush=True)
    else:
        if cfg.resume:
            print(f"--resume: no {run_dir / 'state.pt'} yet; starting from scratch", flush=True)
        metrics_path.unlink(missing_ok=True)
    write_text_atomic(run_dir / "config.json", json.dumps(info, indent=2) + "\n")
