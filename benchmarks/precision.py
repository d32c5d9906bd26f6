"""float32 against bfloat16 autocast, in one process: PSNR on the benchmark sets, the outputs' difference and
the speed of ``upscale_tensor`` on a photo (automatic tiles, as the CLI) for each model, and the speed of a
training step (``--amp=bf16`` in ``train/``).

    python -m benchmarks.precision --threads 2        # fast, srresnet, srgan, real-psnr, real; Set5, Set14

This is the measurement behind ``sr_core.inference.auto_dtype`` (``--dtype auto``, the CLI's default), which
picks bfloat16 on CPUs with AMX or AVX512-BF16. Set5 and Set14 only: BSD100 is a test set, and the precision was chosen here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.precision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="fast,srresnet,srgan,real-psnr,real")
    parser.add_argument("--sets", default="Set5,Set14")
    parser.add_argument("--size", type=int, default=512, help="side of the photo the speed is measured on")
    parser.add_argument("--runs", type=int, default=3, help="interleaved timed runs of each precision")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--train-models", default="fast,srresnet", help="training-step timing ('' for none)")
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--train-patch", type=int, default=48, help="LR patch side of the timed training steps")
    parser.add_argument("--train-steps", type=int, default=3, help="timed steps per round (4 interleaved rounds)")
    parser.add_argument("--out", default="reports/precision")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from sr_core import config, load_model, upscale_tensor
    from sr_core.data import load_eval_set
    from sr_core.inference import auto_dtype, has_amx, has_avx512_bf16
    from sr_core.io import to_tensor
    from sr_core.metrics import evaluate

    from .hardware import machine_info

    from .memory import test_photo
    from .report import write_report

    sets = [s for s in args.sets.split(",") if s]
    pairs = {s: load_eval_set(config.benchmark_dir(s), 4, "bicubic") for s in sets}
    photo, source = test_photo(args.size)
    x = to_tensor(photo)
    dtypes = {"float32": None, "bfloat16": torch.bfloat16}
    auto = auto_dtype(torch.device("cpu"))
    res = {"argv": list(sys.argv[1:] if argv is None else argv), "machine": machine_info(),
           "threads": torch.get_num_threads(), "amx": has_amx(), "avx512_bf16": has_avx512_bf16(),
           "auto_dtype": str(auto).replace("torch.", "") if auto else "float32", "photo": source,
           "size": args.size, "results": {}}
    for name in [m for m in args.models.split(",") if m]:
        model = load_model(name).eval()
        row = {"sets": {}, "seconds": {k: [] for k in dtypes}}
        for s in sets:
            row["sets"][s] = {k: {m: r[m] for m in ("psnr", "ssim")} for k, d in dtypes.items()
                              for r in [evaluate(model, pairs[s], 4, dtype=d, rounded=True)]}
        outs = {}
        upscale_tensor(model, x[..., :64, :64], dtype=torch.bfloat16)  # oneDNN's first-call set-up, untimed
        for _ in range(args.runs):
            for k, d in dtypes.items():
                t = time.perf_counter()
                outs[k] = upscale_tensor(model, x, dtype=d)
                row["seconds"][k].append(time.perf_counter() - t)
        diff = (outs["bfloat16"] - outs["float32"]).abs() * 255
        row["max_abs_diff_in_255"], row["mean_abs_diff_in_255"] = diff.max().item(), diff.mean().item()
        row["median_s"] = {k: statistics.median(v) for k, v in row["seconds"].items()}
        row["speedup"] = row["median_s"]["float32"] / row["median_s"]["bfloat16"]
        res["results"][name] = row
        print(name, {s: {k: round(v["psnr"], 3) for k, v in r.items()} for s, r in row["sets"].items()},
              f"{row['speedup']:.2f}x", file=sys.stderr, flush=True)
    res["training"] = {}
    for name in [m for m in args.train_models.split(",") if m]:
        res["training"][name] = time_training(name, args.train_batch, args.train_patch, args.train_steps)
        print(name, "training", res["training"][name]["speedup"], file=sys.stderr, flush=True)
    cols = " | ".join(f"{s} float32 | {s} bfloat16" for s in sets)
    lines = ["# float32 and bfloat16 autocast", "",
             f"Command: `python -m benchmarks.precision {' '.join(res['argv'])}`  ",
             f"{res['machine'].get('cpu', '')}, {res['threads']} torch threads, AMX: {'yes' if res['amx'] else 'no'}; "
             f"`--dtype auto` picks **{res['auto_dtype']}** here. Y-PSNR (dB), 4-px border, LR by Pillow bicubic, "
             f"whole images. Speed: `upscale_tensor` (automatic tiles, as the CLI) on a {args.size}x{args.size} photo "
             f"({source}), median of {args.runs} interleaved runs; difference: that photo's outputs, in 1/255.", "",
             f"| model | {cols} | float32 s | bfloat16 s | speed-up | max / mean diff |",
             "|---|" + "---:|" * (2 * len(sets)) + "---:|---:|---:|---:|"]
    for name, r in res["results"].items():
        psnrs = " | ".join(f"{r['sets'][s][k]['psnr']:.3f}" for s in sets for k in dtypes)
        lines.append(f"| {name} | {psnrs} | {r['median_s']['float32']:.2f} | {r['median_s']['bfloat16']:.2f} | "
                     f"{r['speedup']:.2f}x | {r['max_abs_diff_in_255']:.2f} / {r['mean_abs_diff_in_255']:.3f} |")
    if res["training"]:
        lines += ["", f"Training step (`sr_core.training.pixel_step`: forward, L1, backward, Adam; channels-last, as "
                  f"`train/loop.py` runs it), batch {args.train_batch} of {args.train_patch} px LR patches at 4x, "
                  f"best of 4 interleaved rounds of {args.train_steps} steps; bfloat16 = `--amp=bf16` (autocast of "
                  "the forward pass, float32 weights and optimiser):", "",
                  "| model | float32 s/step | bfloat16 s/step | speed-up |", "|---|---:|---:|---:|"]
        for name, r in res["training"].items():
            lines.append(f"| {name} | {r['s_per_step']['float32']:.3f} | {r['s_per_step']['bfloat16']:.3f} | "
                         f"{r['speedup']:.2f}x |")
    write_report(args.out, "precision", res, "\n".join(lines) + "\n")
    return res


def time_training(name: str, batch: int, patch: int, steps: int) -> dict:
    """Seconds per training step of the model ``name``'s architecture, float32 and under bfloat16 autocast."""
    import contextlib

    from sr_core import load_model
    from sr_core.losses import PixelLoss
    from sr_core.training import pixel_step

    torch.manual_seed(0)
    model = load_model(name).train().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-5)
    loss = PixelLoss("l1")
    lr = torch.rand(batch, 3, patch, patch).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(batch, 3, patch * 4, patch * 4).contiguous(memory_format=torch.channels_last)
    modes = {"float32": contextlib.nullcontext, "bfloat16": lambda: torch.autocast("cpu", dtype=torch.bfloat16)}
    best = {}
    for _ in range(4):
        for key, ctx in modes.items():
            with ctx():
                pixel_step(model, lr, hr, opt, loss)  # warm-up
                t = time.perf_counter()
                for _ in range(steps):
                    pixel_step(model, lr, hr, opt, loss)
            best[key] = min(best.get(key, float("inf")), (time.perf_counter() - t) / steps)
    return {"s_per_step": best, "speedup": best["float32"] / best["bfloat16"], "batch": batch, "patch": patch}


if __name__ == "__main__":
    main()
