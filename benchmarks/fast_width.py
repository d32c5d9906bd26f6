"""Which width, and whether attention, for ``fast``: the FastSR variants on this CPU, side by side.

    python -m benchmarks.fast_width --threads 2 --out reports/fast_width
    python -m benchmarks.fast_width --threads 2 --train-iters 300 --out reports/fast_width

For 32, 48 and 64 features, each with and without SPAN's parameter-free attention, in one process:
parameters, GMAC per output Mpx, inference output Mpx/s (the merged, optimised network as ``upscale`` runs it,
256 x 256 input, interleaved runs, median), the GFLOP/s that reach the convolutions (how busy the vector units
are kept), and training throughput in LR Mpx/s (forward + backward + Adam, batch 16, 48 px LR patches, the
training form with its branches), with srresnet in the same runs as the yardstick. The shipped ``fast`` is
48 features with attention.

``--train-iters N`` also trains the variants named by ``--train`` (default ``48,48-off``: the attention
question at the shipped width) for N L1 iterations each from the same seed (Adam 5e-4, 192 px HR crops of
``sr_train``, bicubic) and validates them on Set5: a short-run proxy of what attention is worth, not converged
figures (``weights/fast`` trained 5,800 iterations).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import torch

from sr_core.nets import FastSR, count_parameters

from .report import write_report
from .speed import count_macs, forward_variants, time_side_by_side

WIDTHS = (32, 48, 64)
REFERENCE = "srresnet"  # timed beside the variants


def variant_name(width: int, attention: bool) -> str:
    return f"{width}" + ("" if attention else "-off")


def build(width: int, attention: bool, seed: int = 0) -> FastSR:
    torch.manual_seed(seed)
    return FastSR(num_features=width, attention=attention)


def measure_speed(size: int, warmup: int, runs: int, train_steps: int, batch: int = 16, lr_patch: int = 48) -> dict:
    from sr_core.training import pixel_step

    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    rows, fns = {}, {}
    for width in WIDTHS:
        for attention in (True, False):
            name = variant_name(width, attention)
            model = build(width, attention).eval()
            macs, shape = count_macs(model, torch.rand(1, 3, 32, 32))
            fns[name] = forward_variants(model.reparameterize(), x, ("optimized",))["optimized"]
            rows[name] = {"width": width, "attention": attention,
                          "parameters": count_parameters(build(width, attention)),
                          "gmac_per_output_mpx": macs / (shape[-1] * shape[-2]) * 1e6 / 1e9}
    from sr_core.nets import build_preset

    torch.manual_seed(0)
    srresnet = build_preset("srresnet").eval()
    macs, shape = count_macs(srresnet, torch.rand(1, 3, 32, 32))
    fns[REFERENCE] = forward_variants(srresnet, x, ("optimized",))["optimized"]
    rows[REFERENCE] = {"width": None, "attention": None, "parameters": count_parameters(srresnet),
                       "gmac_per_output_mpx": macs / (shape[-1] * shape[-2]) * 1e6 / 1e9}
    out_mpx = size * size * 16 / 1e6
    for name, t in time_side_by_side(fns, warmup, runs).items():
        row = rows[name]
        row["mpx_per_s"] = out_mpx / t["median_s"]
        row["gflops"] = 2 * row["gmac_per_output_mpx"] * row["mpx_per_s"]
    # training throughput: the training form, fixed random batches (the loader is measured in benchmarks.run)
    g = torch.Generator().manual_seed(2)
    lr = torch.rand(batch, 3, lr_patch, lr_patch, generator=g).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(batch, 3, lr_patch * 4, lr_patch * 4, generator=g).contiguous(memory_format=torch.channels_last)
    loss = torch.nn.L1Loss()
    steps = {}
    for name, row in rows.items():
        model = (build_preset("srresnet") if name == REFERENCE else build(row["width"], row["attention"]))
        model = model.to(memory_format=torch.channels_last).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        steps[name] = (model, opt)
    times: dict[str, list[float]] = {name: [] for name in rows}
    for step in range(1 + train_steps):  # interleaved; step 0 warms up
        for name, (model, opt) in steps.items():
            t = time.perf_counter()
            pixel_step(model, lr, hr, opt, loss)
            if step:
                times[name].append(time.perf_counter() - t)
    for name, row in rows.items():
        best = sorted(times[name])[len(times[name]) // 2]
        row["train_lr_mpx_per_s"] = batch * lr_patch * lr_patch / 1e6 / best
    return rows


def short_training(names: list[str], iters: int, crop: int = 192, batch: int = 16) -> dict:
    """N L1 iterations per variant from the same seed and the same batches; Set5 PSNR/SSIM after."""
    from torch.utils.data import DataLoader

    from sr_core import config
    from sr_core.data import SRTrainSet, StepSampler, load_eval_set
    from sr_core.metrics import evaluate
    from sr_core.training import pixel_step

    root = config.data_root()
    dataset = SRTrainSet([root / "sr_train"], crop, 4, seed=0)
    pairs = load_eval_set(root / "sr_benchmark" / "Set5" / "HR", 4)
    out = {}
    for name in names:
        width, _, off = name.partition("-")
        model = build(int(width), off != "off").to(memory_format=torch.channels_last).train()
        opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.99))
        loss = torch.nn.L1Loss()
        loader = iter(DataLoader(dataset, batch_sampler=StepSampler(batch), num_workers=1, prefetch_factor=4,
                                 persistent_workers=True))
        t0 = time.perf_counter()
        for it in range(iters):
            lr, hr = next(loader)
            pixel_step(model, lr.contiguous(memory_format=torch.channels_last),
                       hr.contiguous(memory_format=torch.channels_last), opt, loss)
        seconds = time.perf_counter() - t0
        res = evaluate(model, pairs, 4)
        out[name] = {"iters": iters, "seconds": seconds, "set5_psnr": res["psnr"], "set5_ssim": res["ssim"]}
        print(f"{name}: {iters} iterations in {seconds:.0f} s, Set5 {res['psnr']:.3f} dB", file=sys.stderr)
    return out


def width_table_md(res: dict) -> str:
    """``fast_width.md``: speed and Set5 quality of each width / attention variant of ``fast``."""
    lines = [f"# `fast`: width and attention ({res['date']})", "", f"Command: `{res['command']}`  ",
             f"torch {res['torch']}, Python {res['python']}, {res['threads']} torch threads, CUDA: none. Inference: "
             f"the merged network optimised as `upscale` runs it, input 1x3x{res['size']}x{res['size']}, median of "
             f"{res['runs']} interleaved runs; training: the training form (branches), batch 16, "
             f"{res['train_patch']} px LR patches, "
             f"forward + backward + Adam, median of {res['train_steps']} interleaved steps.", "",
             "| features | attention | parameters | GMAC / output Mpx | output Mpx/s | GFLOP/s | training LR Mpx/s |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    v = res["variants"]
    ref = v[REFERENCE]
    for name, r in v.items():
        if name == REFERENCE:
            continue
        lines.append(f"| {r['width']} | {'on' if r['attention'] else 'off'} | {r['parameters']:,} | "
                     f"{r['gmac_per_output_mpx']:.1f} | {r['mpx_per_s']:.3f} | {r['gflops']:.0f} | "
                     f"{r['train_lr_mpx_per_s']:.3f} |")
    lines.append(f"| srresnet (yardstick) | - | {ref['parameters']:,} | {ref['gmac_per_output_mpx']:.1f} | "
                 f"{ref['mpx_per_s']:.3f} | {ref['gflops']:.0f} | {ref['train_lr_mpx_per_s']:.3f} |")
    lines += ["", "Each variant against srresnet in the same run (inference / training throughput):"]
    for name, r in v.items():
        if name != REFERENCE:
            lines.append(f"- {name}: {r['mpx_per_s'] / ref['mpx_per_s']:.2f}x / "
                         f"{r['train_lr_mpx_per_s'] / ref['train_lr_mpx_per_s']:.2f}x")
    lines += ["", "Attention's cost at each width (output Mpx/s without / with):"]
    for w in WIDTHS:
        on, off = v[variant_name(w, True)], v[variant_name(w, False)]
        lines.append(f"- {w} features: {off['mpx_per_s'] / on['mpx_per_s']:.2f}x inference, "
                     f"{off['train_lr_mpx_per_s'] / on['train_lr_mpx_per_s']:.2f}x training")
    if res.get("training"):
        lines += ["", "## Short training runs (same seed and batches, L1, Adam 5e-4, `sr_train` bicubic; Set5)", "",
                  "| variant | iterations | seconds | Set5 PSNR | SSIM |", "|---|---:|---:|---:|---:|"]
        for name, r in res["training"].items():
            lines.append(f"| {name} | {r['iters']} | {r['seconds']:.0f} | {r['set5_psnr']:.3f} | "
                         f"{r['set5_ssim']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fast_width", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--size", type=int, default=256, help="input side of the inference runs")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--train-steps", type=int, default=5, help="timed training steps per variant")
    parser.add_argument("--train-patch", type=int, default=48, help="LR patch side of the timed training steps")
    parser.add_argument("--train-iters", type=int, default=0, help="also train --train variants this long")
    parser.add_argument("--train", default="48,48-off", help="variants for --train-iters (WIDTH or WIDTH-off)")
    parser.add_argument("--out", default="reports/fast_width")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.train.split(",") if n.strip()]
    for n in names:
        width, sep, off = n.partition("-")
        if not width.isdigit() or (sep and off != "off"):
            parser.error(f"--train: {n!r} is not WIDTH or WIDTH-off")
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(["python -m benchmarks.fast_width",
                                                                          *sys.argv[1:]]),
           "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "size": args.size, "runs": args.runs, "train_steps": args.train_steps,
           "train_patch": args.train_patch,
           "variants": measure_speed(args.size, 2, args.runs, args.train_steps, lr_patch=args.train_patch)}
    if args.train_iters:
        res["training"] = short_training(names, args.train_iters)
    write_report(args.out, "fast_width", res, width_table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
