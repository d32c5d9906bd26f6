"""Counting multiply-accumulates and timing forward passes side by side.

    python -m benchmarks.speed --models srresnet,swift-srgan --size 128 [--malloc]
    python -m benchmarks.speed --models fast --size 256 --variants optimized,out_of_place --runs 9 \
        --threads 2 --out reports/fast_inplace

(the first command line is what ``benchmarks.run`` starts in subprocesses to time
the allocator setting, which is process-wide; it prints one JSON object). ``--variants``
names :func:`forward_variants`' closures timed side by side; ``--out`` also writes the
result as JSON + Markdown there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn


def count_macs(model: nn.Module, x: torch.Tensor) -> tuple[int, torch.Size]:
    """Multiply-accumulates of one forward pass on ``x``, from hooks on Conv2d, ConvTranspose2d and Linear.

    Interpolation, activations, additions and pixel shuffles are not counted
    (they are memory traffic, not multiply-accumulates). Returns the count and
    the output shape.
    """
    if hasattr(model, "reparameterize"):  # FastSR trains with functional convolutions: count its merged form
        import copy

        model = copy.deepcopy(model).eval().reparameterize()
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            total += inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.inference_mode():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return total, out.shape


def macs_per_output_mpx(model: nn.Module, size: int = 32) -> float:
    macs, shape = count_macs(model, torch.rand(1, 3, size, size))
    return macs / (shape[-1] * shape[-2]) * 1e6


def is_dense(model: nn.Module) -> bool:
    """No grouped (depthwise) convolutions: the FLOP/s-against-peak comparison is meaningful."""
    return not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in model.modules())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_side_by_side(variants: dict[str, Callable[[], object]], warmup: int = 2, runs: int = 5,
                      device: torch.device | str = "cpu") -> dict[str, dict]:
    """Median wall time of each variant; the runs are interleaved (round-robin) so drift hits all alike."""
    device = torch.device(device)
    with torch.inference_mode():
        for fn in variants.values():
            for _ in range(warmup):
                fn()
            _sync(device)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(runs):
            for name, fn in variants.items():
                _sync(device)
                t = time.perf_counter()
                fn()
                _sync(device)
                times[name].append(time.perf_counter() - t)
    return {k: {"median_s": statistics.median(v), "min_s": min(v), "runs": len(v)} for k, v in times.items()}


def forward_variants(model: nn.Module, x: torch.Tensor, which: tuple[str, ...] = ("plain", "optimized")
                     ) -> dict[str, Callable[[], object]]:
    """Forward-pass closures: ``plain`` = the network as loaded (NCHW, eager), ``optimized`` =
    ``sr_core.optimize.prepare_for_inference`` (BatchNorm folded, phase-domain tail, channels-last),
    the ablation steps ``bn_folded`` (BatchNorm only, NCHW), ``fused`` (BatchNorm and tail, NCHW)
    and ``channels_last`` (no rewrite), the opt-in ``bf16`` (optimized under bfloat16 autocast), and
    ``out_of_place`` (optimized, but with autograd's grad mode on, so a network that writes its element-wise
    steps in place when autograd is off, ``FastSR``, allocates a tensor for each instead: what that saves)."""
    from sr_core.optimize import prepare_for_inference

    xc = x.contiguous(memory_format=torch.channels_last)
    out = {}
    for name in which:
        if name == "plain":
            out[name] = (lambda m: lambda: m(x))(model)
        elif name == "bn_folded":
            out[name] = (lambda m: lambda: m(x))(prepare_for_inference(model, tail=False, channels_last=False))
        elif name == "fused":
            out[name] = (lambda m: lambda: m(x))(prepare_for_inference(model, channels_last=False))
        elif name == "channels_last":
            out[name] = (lambda m: lambda: m(xc))(prepare_for_inference(model, fuse=False, tail=False,
                                                                                 channels_last=True))
        elif name in ("optimized", "bf16", "out_of_place"):  # as upscale runs it: NHWC where channels_last_pays
            m = prepare_for_inference(model)
            inp = xc if getattr(m, "inference_channels_last", False) else x

            def forward(m=m, inp=inp, low=name == "bf16", grad=name == "out_of_place"):
                # nothing requires grad, so grad mode records no graph: it only switches the code path
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low), torch.set_grad_enabled(grad):
                    return m(inp)
            out[name] = forward
        else:
            raise ValueError(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed")
    parser.add_argument("--models", default="srresnet,swift-srgan")
    parser.add_argument("--size", type=int, default=128, help="input side in pixels")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--malloc", action="store_true", help="sr_core.optimize.tune_malloc() first")
    parser.add_argument("--variants", default="optimized", help="forward_variants names, comma-separated; the "
                                                                "first is the one the others are compared with")
    parser.add_argument("--out", default=None, help="also write speed.json + speed.md to this folder")
    args = parser.parse_args(argv)
    from benchmarks.memory import build_model
    from sr_core.optimize import tune_malloc

    if args.threads:
        torch.set_num_threads(args.threads)
    tuned = tune_malloc() if args.malloc else False
    x = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    variants = tuple(args.variants.split(","))
    result = {"malloc_tuned": tuned, "size": args.size, "threads": torch.get_num_threads(), "models": {}}
    out_mpx = args.size * args.size * 16 / 1e6
    for name in args.models.split(","):
        model, _ = build_model(name)
        times = time_side_by_side(forward_variants(model, x, variants), args.warmup, args.runs)
        row = {f"{v}_mpx_per_s": out_mpx / t["median_s"] for v, t in times.items()}
        result["models"][name] = {**row, **times[variants[0]], "variants": times}
    if args.out is None:
        print(json.dumps(result))
        return 0
    from .hardware import cpu_info
    from .report import write_report

    info = cpu_info()
    result.update(command="python -m benchmarks.speed " + " ".join(sys.argv[1:] if argv is None else argv),
                  cpu=f"{info['model_name']} ({info['torch_cpu_capability']})", torch=torch.__version__)
    lines = ["# Forward-pass variants side by side", "", f"Command: `{result['command']}`  ",
             f"{result['cpu']}, torch {result['torch']}, {result['threads']} torch threads; input 1x3x{args.size}x"
             f"{args.size}, median of {args.runs} interleaved runs after {args.warmup} warm-up runs "
             f"(`forward_variants` says what each variant is).", "",
             "| model | " + " | ".join(f"{v} output Mpx/s" for v in variants) + " | " +
             " | ".join(f"{variants[0]} / {v}" for v in variants[1:]) + " |",
             "|---|" + "---:|" * (2 * len(variants) - 1)]
    for name, r in result["models"].items():
        first = r[f"{variants[0]}_mpx_per_s"]
        lines.append(f"| {name} | " + " | ".join(f"{r[f'{v}_mpx_per_s']:.3f}" for v in variants) + " | " +
                     " | ".join(f"{first / r[f'{v}_mpx_per_s']:.2f}x" for v in variants[1:]) + " |")
    write_report(args.out, "speed", result, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
