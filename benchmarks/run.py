"""Inference and training benchmarks of the project's models and the peers, in one command.

    python -m benchmarks.run                  # the full measurement (about 15 min on 2 cores)
    python -m benchmarks.run --quick          # small sizes: checks that everything runs (about 2 min)
    python -m benchmarks.run --out reports/bench --sections models,memory

Writes ``<out>/bench.json`` and ``<out>/bench.md`` and prints the Markdown.
Sections (``--sections``, default all):

* ``hardware``: CPU description, theoretical float32 peak (cores x FMA units x
  lanes x 2 x clock, at the reported and at the measured clock), an FMA
  microkernel, a large matmul and a 3x3 convolution as practical ceilings.
* ``models``: per model (ours built with random weights when none are shipped:
  speed does not depend on them; the peers from ``../shared/peers``):
  parameters, multiply-accumulates per output megapixel (forward hooks),
  output Mpx/s of the plain network and of ``sr_core.optimize``'s inference
  copy, side by side in this process (median of ``--runs`` after warm-up),
  achieved GFLOP/s and its share of the peak for the dense networks; CUDA too
  when present.
* ``cli``: end to end, ``python -m sr_core upscale photo.png -o out.png --model NAME`` in fresh processes
  (start-up, loading, tiling, PNG writing included) for each of our models, in interleaved rounds; the
  best round of each counts, reported as output Mpx/s and as a ratio to srresnet.
* ``ablation``: each optimisation on its own (BatchNorm folding, phase-domain
  tail, channels-last, threads, the allocator setting, torch.compile with
  ``--compile``, opt-in bfloat16).

The benchmark process calls ``sr_core.optimize.tune_malloc()`` first, as the
CLI does (``--default-malloc`` to leave the allocator alone); the allocator's
own gain is measured in pairs of fresh processes.
* ``tiles``: ``upscale_tensor`` on a tiled image, tiles one at a time vs batched.
* ``memory``: peak resident memory of ``sr_core.upscale`` on a 2048 x 2048
  photo at 4x in a fresh process, the measured forward memory per input pixel
  against ``auto_tile_size``'s estimate, and tiled vs whole-image agreement.
* ``degradations``: the cost of ``sr_core.degradations`` (Real-ESRGAN's second-order model) per batch against
  a training step of ``fast`` (``benchmarks/degradations.py``).
* ``training``: training iterations/s fed by the real loader (``SRTrainSet`` +
  ``StepSampler`` + ``DataLoader``, as ``train/loop.py`` builds it) against
  the same model fed from pre-made tensors.

Timings are wall-clock medians; on a machine where other processes compete for
the cores they are low and noisy, so run the final measurement on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import hardware  # noqa: E402
from benchmarks.bench_report import ABLATION_STEPS, bench_md  # noqa: E402
from benchmarks.memory import build_model, test_photo  # noqa: E402
from benchmarks.speed import forward_variants, is_dense, macs_per_output_mpx, time_side_by_side  # noqa: E402

OURS = ("fast", "srresnet", "srgan", "swift-srgan", "srcnn")
SECTIONS = ("hardware", "models", "cli", "ablation", "tiles", "memory", "training", "degradations")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _subprocess_json(args: list[str], timeout: float = 3600) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- models ----------------------------------------------------------------------------------------

def bench_models(names: list[str], size: int, warmup: int, runs: int, peak: float | None) -> dict:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    out_mpx = size * size * 16 / 1e6
    rows = {}
    for name in names:
        log(f"models: {name}")
        model, weights = build_model(name)
        macs = macs_per_output_mpx(model)
        times = time_side_by_side(forward_variants(model, x, ("plain", "optimized")), warmup, runs)
        row = {"weights": weights, "parameters": sum(p.numel() for p in model.parameters()),
               "macs_per_output_mpx": macs, "dense": is_dense(model)}
        for variant, t in times.items():
            mpx_s = out_mpx / t["median_s"]
            row[variant] = {**t, "mpx_per_s": mpx_s, "gflops": 2 * macs * mpx_s / 1e9}
            if peak and row["dense"]:
                row[variant]["fraction_of_peak"] = row[variant]["gflops"] / peak
        row["speedup"] = row["optimized"]["mpx_per_s"] / row["plain"]["mpx_per_s"]
        if torch.cuda.is_available():
            row["cuda"] = bench_cuda(model, size, warmup, runs)
        rows[name] = row
    return {"input": f"1x3x{size}x{size} (output {size * 4}x{size * 4})", "threads": torch.get_num_threads(),
            "runs": runs, "warmup": warmup, "models": rows}


def bench_cuda(model, size: int, warmup: int, runs: int) -> dict:
    """The optimised network on CUDA in float32 and under float16 autocast (as ``upscale(dtype="auto")``)."""
    from sr_core.optimize import prepare_for_inference

    dev = torch.device("cuda")
    m = prepare_for_inference(model.to(dev))
    x = torch.rand(1, 3, size, size, device=dev).contiguous(memory_format=torch.channels_last)

    def half():
        with torch.autocast("cuda", dtype=torch.float16):
            return m(x)

    times = time_side_by_side({"float32": lambda: m(x), "float16": half}, warmup, runs, device=dev)
    model.to("cpu")
    out_mpx = size * size * 16 / 1e6
    return {k: {**t, "mpx_per_s": out_mpx / t["median_s"]} for k, t in times.items()}


# --- ablation --------------------------------------------------------------------------------------

def _paper_srresnet():
    """The paper's SRResNet (BatchNorm) with non-trivial running statistics, to time BatchNorm folding."""
    from sr_core.nets import build_preset

    torch.manual_seed(0)
    model = build_preset("srresnet", norm="batch").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model


def _bf16_error(model, x) -> dict:
    """How far the opt-in bfloat16 autocast output is from float32 (both optimised, clamped to [0, 1])."""
    from sr_core.inference import upscale_tensor

    ref = upscale_tensor(model, x, tile=0)
    try:
        low = upscale_tensor(model, x, tile=0, dtype=torch.bfloat16)
    except RuntimeError as err:
        return {"error": str(err)}
    d = (low - ref).abs()
    return {"max_abs_diff_in_255": d.max().item() * 255, "mean_abs_diff_in_255": d.mean().item() * 255}


def bench_ablation(size: int, warmup: int, runs: int, compile_: bool, quick: bool) -> dict:
    from sr_core.optimize import prepare_for_inference

    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    xc = x.contiguous(memory_format=torch.channels_last)
    out_mpx = size * size * 16 / 1e6
    models = {"srresnet": build_model("srresnet")[0], "swift-srgan": build_model("swift-srgan")[0],
              "srresnet (paper, BatchNorm)": _paper_srresnet()}
    rows = {}
    for name, model in models.items():
        log(f"ablation: {name}")
        times = time_side_by_side(forward_variants(model, x, ABLATION_STEPS), warmup, runs)
        rows[name] = {k: {**t, "mpx_per_s": out_mpx / t["median_s"]} for k, t in times.items()}
        rows[name]["bf16"].update(_bf16_error(model, x))
    # threads: the optimised network with 1 thread and with all of them, side by side
    threads = {}
    full = torch.get_num_threads()
    cores = max(full, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    for name in ("srresnet", "swift-srgan"):
        m = prepare_for_inference(models[name])  # both channels-last

        def with_threads(n, m=m):
            def fn():
                torch.set_num_threads(n)
                try:
                    m(xc)
                finally:
                    torch.set_num_threads(full)
            return fn
        t = time_side_by_side({"1": with_threads(1), str(cores): with_threads(cores)}, warmup, runs)
        threads[name] = {k: {**v, "mpx_per_s": out_mpx / v["median_s"]} for k, v in t.items()}
    # the allocator setting is process-wide: two fresh processes, alternately
    log("ablation: allocator (subprocesses)")
    malloc = {"default": [], "tuned": []}
    for _ in range(1 if quick else 2):
        for key, flag in (("default", []), ("tuned", ["--malloc"])):
            malloc[key].append(_subprocess_json(["benchmarks.speed", "--models", "srresnet,swift-srgan",
                                                 "--size", str(size), "--warmup", str(warmup),
                                                 "--runs", str(runs), *flag]))
    malloc_summary = {}
    for key, results in malloc.items():
        ok = [r for r in results if "models" in r]
        if ok:
            malloc_summary[key] = {n: statistics.median(r["models"][n]["optimized_mpx_per_s"] for r in ok)
                                   for n in ok[0]["models"]}
        else:
            malloc_summary[key] = {"error": results[0].get("error")}
    result = {"input": f"1x3x{size}x{size}", "steps": rows, "threads": threads, "malloc": malloc_summary}
    if compile_:
        log("ablation: torch.compile (slow: compiles first)")
        comp = {}
        for name in ("srresnet", "swift-srgan"):
            t0 = time.perf_counter()
            cm = prepare_for_inference(models[name], compile=True)
            with torch.inference_mode():
                cm(xc)
            compile_s = time.perf_counter() - t0
            m = prepare_for_inference(models[name])
            t = time_side_by_side({"eager": lambda m=m: m(xc), "compiled": lambda cm=cm: cm(xc)}, warmup, runs)
            comp[name] = {"compile_seconds": compile_s, **{k: {**v, "mpx_per_s": out_mpx / v["median_s"]}
                                                            for k, v in t.items()}}
        result["compile"] = comp
    return result


# --- batched tiles ---------------------------------------------------------------------------------

def bench_tiles(size: int, tile: int, warmup: int, runs: int) -> dict:
    from sr_core.inference import upscale_tensor

    model = build_model("srresnet")[0]
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    out_mpx = size * size * 16 / 1e6
    batches = (1, 4, 16)
    fns = {str(b): (lambda b: lambda: upscale_tensor(model, x, tile=tile, batch_size=b))(b) for b in batches}
    fns["whole image"] = lambda: upscale_tensor(model, x, tile=0)
    log("tiles: batched vs one at a time")
    times = time_side_by_side(fns, max(1, warmup - 1), runs)
    ref = upscale_tensor(model, x, tile=tile, batch_size=1)
    diffs = {str(b): (upscale_tensor(model, x, tile=tile, batch_size=b) - ref).abs().max().item() * 255
             for b in batches[1:]}
    return {"input": f"1x3x{size}x{size}", "tile": tile, "model": "srresnet (optimized)",
            "batch_size": {k: {**t, "mpx_per_s": out_mpx / t["median_s"]} for k, t in times.items()},
            "max_abs_diff_vs_batch1_in_255": diffs}


# --- memory ----------------------------------------------------------------------------------------

def bench_memory(size: int, agree_size: int, forward_tiles: list[int], quick: bool,
                 only: list[str] | None = None) -> dict:
    """``only``: just these models, in the CLI's configuration (tuned allocator, row bands)."""
    from sr_core.inference import auto_tile_size, upscale_tensor
    from sr_core.io import to_tensor
    from sr_core.metrics import psnr

    result = {"upscale": {}, "forward": {}, "agreement": {}}
    runs = (("srresnet", False, True), ("srresnet", False, False), ("srresnet", True, False),
            ("swift-srgan", True, False), ("fast", True, False))
    if only:
        runs = tuple((name, True, False) for name in only)
    for name, malloc, via_tensor in runs:
        key = name + (", tuned malloc (as the CLI)" if malloc else ", default malloc")
        key += ", float32 output then 8 bits (before)" if via_tensor else ", row bands"
        log(f"memory: upscale {size}x{size} photo 4x, {key} (subprocess)")
        result["upscale"][key] = _subprocess_json(["benchmarks.memory", "upscale", "--model", name, "--size",
                                                   str(size), *(["--malloc"] if malloc else []),
                                                   *(["--via-tensor"] if via_tensor else [])])
    for name in only or ("fast", "srresnet", "swift-srgan", "srcnn"):
        for tile in forward_tiles:
            log(f"memory: forward {name} tile {tile} (subprocess)")
            result["forward"][f"{name}@{tile}"] = _subprocess_json(["benchmarks.memory", "forward", "--model", name,
                                                                    "--tile", str(tile)])
    photo, source = test_photo(agree_size)
    x = to_tensor(photo)
    for name in only or ("fast", "srresnet", "swift-srgan"):
        model, weights = build_model(name)
        tile = max(40, agree_size // 3)
        log(f"memory: tiled vs whole image, {name}, {agree_size}x{agree_size}, tile {tile}")
        whole = upscale_tensor(model, x, tile=0)
        tiled = upscale_tensor(model, x, tile=tile)
        result["agreement"][name] = {
            "weights": weights, "size": agree_size, "tile": tile, "overlap": 16, "photo": source,
            "psnr_db": psnr(tiled, whole, crop_border=0, y_channel=False).item(),
            "mean_abs_diff_in_255": (tiled - whole).abs().mean().item() * 255,
            "max_abs_diff_in_255": (tiled - whole).abs().max().item() * 255}
    result["auto_tile"] = {n: auto_tile_size(build_model(n)[0]) for n in only or ("fast", "srresnet",
                                                                                  "swift-srgan", "srcnn")}
    return result


# --- command line, end to end ----------------------------------------------------------------------

def bench_cli(names: list[str], size: int, rounds: int, threads: int) -> dict:
    """Wall time of ``python -m sr_core upscale`` per model on one ``size`` x ``size`` photo, fresh processes."""
    import tempfile

    photo, source = test_photo(size)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    src = tmp / "photo.png"
    photo.save(src)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    times: dict[str, list[float]] = {n: [] for n in names}
    errors = {}
    for r in range(rounds):
        for name in names:
            log(f"cli: {name}, round {r + 1}/{rounds}")
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "sr_core", "upscale", str(src), "-o", str(tmp / "out.png"),
                                   "--model", name, "--overwrite"], capture_output=True, text=True, cwd=REPO, env=env,
                                  timeout=1800)
            if proc.returncode != 0:
                errors[name] = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
                continue
            times[name].append(time.perf_counter() - t0)
    out_mpx = size * size * 16 / 1e6
    rows = {n: {"best_s": min(t), "rounds_s": t, "mpx_per_s": out_mpx / min(t)} for n, t in times.items() if t}
    if "srresnet" in rows:
        for n, row in rows.items():
            row["vs_srresnet"] = row["mpx_per_s"] / rows["srresnet"]["mpx_per_s"]
    return {"input": f"{size}x{size} photo ({source}), output {size * 4}x{size * 4}", "rounds": rounds,
            "models": rows, "errors": errors}


# --- training --------------------------------------------------------------------------------------

def bench_training(quick: bool, iters: int, rounds: int = 2) -> dict:
    from torch.utils.data import DataLoader

    from sr_core import config
    from sr_core.data import SRTrainSet, StepSampler
    from sr_core.losses import PixelLoss
    from sr_core.nets import build_preset
    from sr_core.training import pixel_step

    root = config.data_root() / "sr_train"
    if not root.is_dir():
        return {"skipped": f"no training data at {root}"}
    crop, batch = (32, 4) if quick else (96, 16)
    configs = {"srresnet": dict(num_blocks=2, num_features=16) if quick else {}}
    if not quick:
        configs["srcnn"] = {}
        configs["fast"] = {}
    t0 = time.perf_counter()
    dataset = SRTrainSet([root], crop, 4, seed=0)
    decode_s = time.perf_counter() - t0
    # the loader alone, in this process: the CPU cost of one batch
    t0 = time.perf_counter()
    n_samples = batch * (4 if quick else 20)
    for k in range(n_samples):
        dataset[k]
    sample_ms = (time.perf_counter() - t0) / n_samples * 1e3
    result = {"crop": crop, "batch": batch, "decode_seconds": decode_s, "images": len(dataset.images),
              "sample_ms": sample_ms, "batch_ms": sample_ms * batch, "models": {}}
    cl = torch.channels_last
    for name, overrides in configs.items():
        torch.manual_seed(0)
        model = build_preset(name, **overrides).to(memory_format=cl).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        loss = PixelLoss("l1")
        premade = [dataset[k] for k in range(batch * 4)]
        premade = [(torch.stack([premade[i * batch + j][0] for j in range(batch)]),
                    torch.stack([premade[i * batch + j][1] for j in range(batch)])) for i in range(4)]

        def feed_memory():
            i = 0
            while True:
                yield premade[i % len(premade)]
                i += 1

        def feed_loader(workers):
            loader = DataLoader(dataset, batch_sampler=StepSampler(batch), num_workers=workers,
                                persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
            return iter(loader)

        def measure(batches, n):
            warm = 2
            for i in range(warm + n):
                if i == warm:
                    t = time.perf_counter()
                lr, hr = next(batches)
                pixel_step(model, lr.contiguous(memory_format=cl), hr.contiguous(memory_format=cl), opt, loss)
            return n / (time.perf_counter() - t)

        feeds = {"memory": feed_memory(), **{f"loader_{w}w": feed_loader(w) for w in (0, 1, 2)}}
        rates: dict[str, list[float]] = {k: [] for k in feeds}
        for r in range(rounds):  # interleaved rounds; the best round of each feed counts (load on the machine
            for key, batches in feeds.items():  # only ever slows a round down)
                log(f"training: {name}, {key}, round {r + 1}/{rounds}")
                rates[key].append(measure(batches, iters))
        del feeds
        row = {k: max(v) for k, v in rates.items()}
        row["rounds"] = rates
        row["gap"] = {k: 1 - v / row["memory"] for k, v in row.items() if k.startswith("loader_")}
        result["models"][name + (" (tiny)" if quick else "")] = row
    return result


# --- report ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs: checks that everything works")
    parser.add_argument("--out", default="reports/bench", help="output folder (bench.json, bench.md)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--models", default=None, help="comma-separated model names (default: ours and the peers)")
    parser.add_argument("--size", type=int, default=None, help="input side for the speed runs (default 256, quick 48)")
    parser.add_argument("--cli-size", type=int, default=None, help="photo side for the end-to-end CLI runs "
                                                                     "(default 384, quick 128)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per variant (default 7, quick 3)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    parser.add_argument("--memory-size", type=int, default=None, help="photo side for the peak-memory run "
                                                                        "(default 2048, quick 256)")
    parser.add_argument("--memory-models", default=None,
                        help="memory section: only these models (comma-separated), in the CLI's configuration")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator alone (default: sr_core.optimize.tune_malloc, as the CLI does)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from sr_core.optimize import tune_malloc

    malloc_tuned = False if args.default_malloc else tune_malloc()
    quick = args.quick
    size = args.size or (48 if quick else 256)
    runs = args.runs or (3 if quick else 7)
    warmup = 1 if quick else 2
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {SECTIONS}")
    from benchmarks.peers import available_peers

    names = args.models.split(",") if args.models else [*OURS, *available_peers()]
    res = {"quick": quick, "date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(["python -m benchmarks.run",
                                                                                      *sys.argv[1:]]),
           "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "malloc_tuned": malloc_tuned,
           "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = {
        "hardware": lambda: hardware.describe(quick),
        "models": lambda: bench_models(names, size, warmup, runs, res.get("hardware", {}).get("peak_gflops")),
        "cli": lambda: bench_cli([n for n in OURS if n in names or not args.models],
                                 args.cli_size or (128 if quick else 384),
                                 1 if quick else 2, args.threads),
        "ablation": lambda: bench_ablation(size, warmup, runs, args.compile, quick),
        "tiles": lambda: bench_tiles(96 if quick else 384, 40 if quick else 96, warmup, runs),
        "memory": lambda: bench_memory(args.memory_size or (256 if quick else 2048), 64 if quick else 256,
                                       [64] if quick else [128, 256], quick,
                                       args.memory_models.split(",") if args.memory_models else None),
        "training": lambda: bench_training(quick, 3 if quick else 12),
        "degradations": lambda: __import__("benchmarks.degradations", fromlist=["measure"]).measure(
            samples=16 if quick else 48, steps=2 if quick else 5),
    }
    failed = []
    for section in SECTIONS:
        if section not in sections:
            continue
        log(section)
        t0 = time.perf_counter()
        try:
            res[section] = jobs[section]()
        except Exception:  # one broken section must not cost the others' results
            failed.append(section)
            res.setdefault("errors", {})[section] = traceback.format_exc()
            log(f"{section} failed:\n{res['errors'][section]}")
        res.setdefault("section_seconds", {})[section] = time.perf_counter() - t0
        (out / "bench.json").write_text(json.dumps(res, indent=2, default=str) + "\n")  # partial results
    md = bench_md(res)
    (out / "bench.md").write_text(md)
    print(md)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
