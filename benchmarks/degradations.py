"""Cost of the realistic degradation (``sr_core.degradations``) against a training step, in one run.

    python -m benchmarks.degradations                 # 192 px HR crops -> 48 px LR, batch 16, 1 thread
    python -m benchmarks.degradations --samples 64 --steps 5 --out reports/degradations

Per preset (``real``, ``real-mild``, and ``real`` in BSRGAN's shuffled order), the
best time per sample (of 3 passes) of ``RealDegradation`` on a 192 x 192 crop of a BSD100
photo (a synthetic picture without the shared data), one thread for OpenCV and
torch; and the best time of one training step of the ``fast`` network
(``sr_core.nets.build_preset("fast")``, batch 16 of 48 px LR, L1 loss,
forward + backward + Adam, one thread). The ratio is the degradation of one
batch over one step: under 0.10 the loader keeps up in the main process;
otherwise ``workers_needed`` DataLoader workers, each on a core of its
own, make batches at least as fast as the steps. Writes ``degradations.json`` and ``degradations.md`` to
``--out``. ``measure()`` is the function for ``benchmarks.run``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MEASURED_PRESETS = ("real", "real-mild", "real-bsrgan")


def _hr_crops(n: int, size: int) -> list[np.ndarray]:
    from sr_core import config
    from sr_core.data import load_rgb
    from sr_core.io import list_images

    folder = config.benchmark_dir("BSD100")
    paths = list_images(folder) if folder.is_dir() else []
    rng = np.random.default_rng(0)
    crops = []
    for i in range(n):
        if paths:
            img = np.asarray(load_rgb(paths[i % len(paths)]))
            y, x = rng.integers(img.shape[0] - size + 1), rng.integers(img.shape[1] - size + 1)
            crops.append(np.ascontiguousarray(img[y:y + size, x:x + size]))
        else:
            crops.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return crops


def time_degradation(preset: str, crops: list[np.ndarray], scale: int = 4, repeats: int = 3) -> dict:
    """Best of ``repeats`` passes of the mean seconds per sample (different indices each pass; the best pass is
    the least disturbed by other jobs on the machine)."""
    from sr_core.degradations import DegradationConfig, RealDegradation, get_config

    cfg = DegradationConfig(order="bsrgan") if preset == "real-bsrgan" else get_config(preset)
    pipe = RealDegradation(cfg)
    pipe(crops[0], scale, np.random.default_rng(0))  # warm-up (OpenCV's first calls allocate)
    per_pass = []
    for r in range(repeats):
        t = time.perf_counter()
        for i, crop in enumerate(crops):
            pipe(crop, scale, np.random.default_rng((r, i)))
        per_pass.append((time.perf_counter() - t) / len(crops))
    return {"seconds_per_sample": min(per_pass), "passes": per_pass}


def time_training_step(batch: int = 16, lr_size: int = 48, steps: int = 5, warmup: int = 2) -> dict:
    from sr_core.nets import build_preset

    torch.manual_seed(0)
    model = build_preset("fast").train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    lr = torch.rand(batch, 3, lr_size, lr_size)
    hr = torch.rand(batch, 3, lr_size * 4, lr_size * 4)
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.l1_loss(model(lr), hr)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return {"seconds_per_step": min(times), "steps": times, "batch": batch, "lr_size": lr_size}


def measure(samples: int = 48, steps: int = 5, batch: int = 16, hr_size: int = 192, threads: int = 1) -> dict:
    """Degradation cost per sample per preset, the ``fast`` training step, and their ratio per batch."""
    import cv2

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    crops = _hr_crops(samples, hr_size)
    step = time_training_step(batch, hr_size // 4, steps)
    out = {"hr_size": hr_size, "lr_size": hr_size // 4, "batch": batch, "threads": threads, "samples": samples,
           "training_step": step, "presets": {},
           "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    for preset in MEASURED_PRESETS:
        d = time_degradation(preset, crops)
        batch_s = d["seconds_per_sample"] * batch
        ratio = batch_s / step["seconds_per_step"]
        out["presets"][preset] = {**d, "seconds_per_batch": batch_s, "ratio_to_step": ratio,
                                  "keeps_up_in_main_process": ratio < 0.10,
                                  # DataLoader workers, each on a core of its own, to make batches as fast as steps
                                  "workers_needed": max(1, math.ceil(ratio))}
    return out


def degradation_cost_md(res: dict) -> str:
    """``degradations.md``: the cost of the degradations per batch against a training step."""
    s = res["training_step"]
    lines = ["# Degradation cost vs a training step", "",
             f"HR crop {res['hr_size']} px -> LR {res['lr_size']} px, batch {res['batch']}, {res['threads']} thread(s) "
             f"(OpenCV and torch), {res['samples']} samples per pass, best of 3 passes. Training step: `fast` "
             f"network, batch {s['batch']} of {s['lr_size']} px LR, L1, forward + backward + Adam, best "
             f"{s['seconds_per_step'] * 1e3:.0f} ms. Load average at start: {res['load_average']}.", "",
             "| preset | ms / sample | ms / batch | batch / step | loader keeps up (< 10 %) |",
             "|---|---:|---:|---:|---|"]
    for name, p in res["presets"].items():
        keeps = ("yes, in the main process" if p["keeps_up_in_main_process"]
                 else f"with {p['workers_needed']} worker(s) on spare cores")
        lines.append(f"| {name} | {p['seconds_per_sample'] * 1e3:.1f} | {p['seconds_per_batch'] * 1e3:.0f} | "
                     f"{p['ratio_to_step'] * 100:.1f} % | {keeps} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="reports/degradations")
    args = parser.parse_args(argv)
    res = measure(args.samples, args.steps, args.batch, threads=args.threads)
    from benchmarks.report import write_report

    write_report(args.out, "degradations", res, degradation_cost_md(res))
    return res


if __name__ == "__main__":
    main()
