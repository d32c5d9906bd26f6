"""``bench.md`` of ``python -m benchmarks.run``: one function per section of ``bench.json``, and the targets.

The targets are data (``TARGETS``): each names what it compares and its threshold, and ``targets`` writes one
line per target that the results can answer, with ``met`` or ``MISSED``.
"""

from __future__ import annotations

ABLATION_STEPS = ("plain", "bn_folded", "fused", "channels_last", "optimized", "bf16")

# The performance targets the report checks (the issues that set them; thresholds only, the wording is below).
TARGETS = {
    "swift_srgan_vs_srresnet": 4,       # output Mpx/s on CPU, at least this ratio
    "srresnet_fraction_of_peak": 0.70,  # of the CPU's float32 peak
    "fast_vs_srresnet": 5,              # model time
    "fast_vs_peers": 1,                 # more than this ratio against each fast peer's faster variant
    "fast_peers": ("imdn", "realesr-general-x4v3"),
    "real_vs_real_world_peer": 1,       # at least; the real-photos issue
    "cli_fast_vs_srresnet": 5,          # end to end in the CLI
    "slow_peers": ("srgan-leftthomas", "vdsr"),  # srresnet must be at least as fast as their plain forward
    "loader_gap": 0.10,                 # training: real loader at most this far below the in-memory feed
    "peak_memory_gib": {"fast": 1.5, "other": 3},  # 2048 x 2048 photo at 4x
    "tiled_psnr_db": 45,                # tiled vs whole image
    "tiled_mean_diff_255": 1,
}


def peak_bytes(r: dict) -> int:
    """Peak resident memory of a ``benchmarks.memory upscale`` result: VmHWM where /proc has it, else ru_maxrss."""
    return r["vmhwm_bytes"] if r.get("vmhwm_bytes", -1) > 0 else r["ru_maxrss_bytes"]


def _f(x, nd=2):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def bench_md(res: dict) -> str:
    """The whole report: header, every section present in ``res``, errors, targets, the degradation cost."""
    lines = [f"# Benchmarks ({'quick' if res['quick'] else 'full'} run, {res['date']})", "",
             f"Command: `{res['command']}`  ", f"torch {res['torch']}, Python {res['python']}, "
             f"{res['threads']} torch threads, CUDA: {res['cuda'] or 'none'}. This process runs with "
             + ("`sr_core.optimize.tune_malloc()` (as the CLI; its gain is measured in separate processes below)."
                if res.get("malloc_tuned") else "glibc's default allocator settings (`--default-malloc`)."), ""]
    for section in (hardware_md, models_md, cli_md, ablation_md, tiles_md, memory_md, training_md):
        lines += section(res)
    for section, err in res.get("errors", {}).items():
        lines += [f"## {section}: failed", "", "```", err.strip().splitlines()[-1], "```", ""]
    lines += ["## Targets", ""] + [f"- {t}" for t in targets(res)]
    md = "\n".join(lines) + "\n"
    if res.get("degradations"):
        from benchmarks.degradations import degradation_cost_md

        md += "\n" + degradation_cost_md(res["degradations"]).replace("# ", "## ", 1)
    return md


def hardware_md(res: dict) -> list[str]:
    """## CPU and peak: the CPU, its theoretical float32 peak and the measured ceilings."""
    hw = res.get("hardware")
    if not hw:
        return []
    lines = []
    c, lay, meas, lib = hw["cpu"], hw["fma_layout"], hw["measured"], hw["libraries"]
    lines += ["## CPU and peak", "",
              f"{c['model_name']} ({c['vendor']} family {c['family']:#x} model {c['model']}), {c['cores']} cores "
              f"({c['logical_cpus']} logical CPUs), hypervisor: {c['hypervisor'] or 'none'}, reported clock "
              f"{_f(c['reported_mhz'], 0)} MHz, PyTorch kernels: {c['torch_cpu_capability']}.", "",
              f"Peak = {hw['peak_formula']}; {lay['note']}; {lay['fp32_lanes']} float32 lanes from the flags "
              f"({', '.join(f for f in hw['simd_flags'] if f in ('avx512f', 'avx2', 'fma'))}).", ""]
    lines += ["| quantity | GFLOP/s |", "|---|---:|"]
    if "reported_clock_gflops" in hw["peaks"]:
        lines.append(f"| theoretical peak at the reported clock ({_f(c['reported_mhz'] / 1000, 3)} GHz) | "
                     f"{_f(hw['peaks']['reported_clock_gflops'], 0)} |")
    if meas.get("available"):
        lines += [f"| theoretical peak at the measured clock ({_f(meas['clock_ghz'], 3)} GHz, dependent adds) | "
                  f"**{_f(hw['peaks']['measured_clock_gflops'], 0)}** (the reference below) |",
                  f"| FMA microkernel, one core ({_f(meas['fma_flop_per_cycle'], 1)} FLOP/cycle) | "
                  f"{_f(meas['fma_gflops_one_core'], 0)} |",
                  f"| FMA microkernel, all cores at once | {_f(meas['fma_gflops_all_cores'], 0)} |"]
    lines += [f"| float32 matmul {lib['matmul_n']}x{lib['matmul_n']} (MKL), {lib['threads']} threads | "
              f"{_f(lib['matmul_gflops'], 0)} |",
              f"| 3x3 convolution {lib['conv3x3_shape']} (oneDNN) | {_f(lib['conv3x3_gflops'], 0)} |", ""]
    return lines


def models_md(res: dict) -> list[str]:
    """## Models (CPU): parameters, MACs, plain vs optimised speed, share of the peak; CUDA when present."""
    m = res.get("models")
    if not m:
        return []
    lines = []
    lines += ["## Models (CPU)", "",
              f"Input {m['input']}, {m['threads']} threads, median of {m['runs']} runs after {m['warmup']} "
              "warm-up, all in one process (so both columns share its allocator setting). *plain*: the network as "
              "loaded (NCHW, eager); *optimized*: "
              "`sr_core.optimize.prepare_for_inference` (what `upscale` runs). GMAC counted by forward hooks on "
              "Conv2d/ConvTranspose2d/Linear of the plain network (interpolation not counted); "
              "GFLOP/s = 2 x MAC/s. "
              "% of peak only for dense networks (no depthwise convolutions).", "",
              "| model | weights | parameters | GMAC / output Mpx | plain Mpx/s | optimized Mpx/s | speed-up | "
              "optimized GFLOP/s | % of peak |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in m["models"].items():
        frac = r["optimized"].get("fraction_of_peak")
        lines.append(f"| {name} | {r['weights']} | {r['parameters']:,} | {_f(r['macs_per_output_mpx'] / 1e9, 1)} | "
                     f"{_f(r['plain']['mpx_per_s'], 3)} | **{_f(r['optimized']['mpx_per_s'], 3)}** | "
                     f"{_f(r['speedup'])}x | {_f(r['optimized']['gflops'], 0)} | "
                     f"{_f(frac * 100, 0) + ' %' if frac is not None else '-'} |")
    if any("cuda" in r for r in m["models"].values()):
        lines += ["", "| model | CUDA float32 Mpx/s | CUDA float16 Mpx/s |", "|---|---:|---:|"]
        for name, r in m["models"].items():
            if "cuda" in r:
                lines.append(f"| {name} | {_f(r['cuda']['float32']['mpx_per_s'], 1)} | "
                             f"{_f(r['cuda']['float16']['mpx_per_s'], 1)} |")
    lines.append("")
    return lines


def cli_md(res: dict) -> list[str]:
    """## End to end in the command line: fresh-process wall times."""
    c = res.get("cli")
    if not (c and c.get("models")):
        return []
    lines = []
    lines += ["## End to end in the command line", "",
              f"`python -m sr_core upscale photo.png -o out.png --model NAME` in a fresh process each time (start-up, "
              f"weights, tiling, PNG writing included), {c['input']}, best of {c['rounds']} interleaved rounds.", "",
              "| model | best wall time (s) | output Mpx/s | vs srresnet |", "|---|---:|---:|---:|"]
    for name, r in c["models"].items():
        lines.append(f"| {name} | {_f(r['best_s'])} | {_f(r['mpx_per_s'], 3)} | "
                     f"{_f(r['vs_srresnet']) + 'x' if 'vs_srresnet' in r else '-'} |")
    for name, err in c.get("errors", {}).items():
        lines.append(f"\n{name}: failed ({err})")
    lines.append("")
    return lines


def ablation_md(res: dict) -> list[str]:
    """## What each optimisation gains: steps, threads, allocator, torch.compile."""
    a = res.get("ablation")
    if not a:
        return []
    lines = []
    lines += ["## What each optimisation gains (output Mpx/s, same process, interleaved runs)", "",
              f"Input {a['input']}. *BN folded*: BatchNorm folded into the convolutions (NCHW). *+ tail*: also "
              "the phase-domain sub-pixel tail (NCHW). *channels-last*: NHWC only, no rewrite. *all*: "
              "everything (what `upscale` runs).", "",
              "| model | plain | BN folded | BN + tail | channels-last | all | all / plain | "
              "all + bfloat16 autocast (opt-in) | its max / mean diff (1/255) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in a["steps"].items():
        v = [r[s]["mpx_per_s"] for s in ABLATION_STEPS[:-1]]
        b = r["bf16"]
        err = (f"{_f(b['max_abs_diff_in_255'])} / {_f(b['mean_abs_diff_in_255'], 3)}"
               if "max_abs_diff_in_255" in b else b.get("error", "n/a"))
        lines.append(f"| {name} | " + " | ".join(_f(x, 3) for x in v) + f" | {_f(v[-1] / v[0])}x | "
                     f"{_f(b['mpx_per_s'], 3)} | {err} |")
    lines += ["", "The bfloat16 differences above are for random weights; on the trained srresnet/srgan weights "
              "(Set5) they were 0.03-0.11/255 mean, up to 2/255 max. bfloat16 is fast only on CPUs with "
              "AVX512-BF16 or AMX (oneDNN); elsewhere it is emulated and slower."]
    lines += ["", "| model (all optimisations) | 1 thread | " + " | ".join(
        f"{k} threads" for k in next(iter(a["threads"].values())) if k != "1") + " |", "|---|---:|---:|"]
    for name, r in a["threads"].items():
        lines.append(f"| {name} | " + " | ".join(_f(v["mpx_per_s"], 3) for v in r.values()) + " |")
    mal = a["malloc"]
    if all("error" not in v for v in mal.values()):
        lines += ["", "Allocator (`sr_core.optimize.tune_malloc`: freed blocks reused instead of unmapped; "
                  "separate processes, alternating):", "", "| model | default malloc | tuned | gain |",
                  "|---|---:|---:|---:|"]
        for name in mal["default"]:
            d, t = mal["default"][name], mal["tuned"][name]
            lines.append(f"| {name} | {_f(d, 3)} | {_f(t, 3)} | {_f((t / d - 1) * 100, 0)} % |")
    else:
        lines += ["", f"Allocator measurement failed: {mal}"]
    if "compile" in a:
        lines += ["", "| model | eager (optimized) | torch.compile | compile time s |", "|---|---:|---:|---:|"]
        for name, r in a["compile"].items():
            lines.append(f"| {name} | {_f(r['eager']['mpx_per_s'], 3)} | {_f(r['compiled']['mpx_per_s'], 3)} | "
                         f"{_f(r['compile_seconds'], 0)} |")
    lines.append("")
    return lines


def tiles_md(res: dict) -> list[str]:
    """## Batched tiles."""
    t = res.get("tiles")
    if not t:
        return []
    lines = []
    lines += ["## Batched tiles", "", f"`upscale_tensor`, {t['model']}, input {t['input']}, tile {t['tile']}, "
              f"overlap 16; max |difference| to one tile at a time (in 1/255): "
              f"{', '.join(f'batch {k}: {v:.2g}' for k, v in t['max_abs_diff_vs_batch1_in_255'].items())}.", "",
              "| tiles per forward pass | output Mpx/s |", "|---|---:|"]
    for k, v in t["batch_size"].items():
        lines.append(f"| {k} | {_f(v['mpx_per_s'], 3)} |")
    lines.append("")
    return lines


def memory_md(res: dict) -> list[str]:
    """## Memory: peak resident memory, forward memory per pixel, tiled vs whole agreement."""
    mem = res.get("memory")
    if not mem:
        return []
    lines = []
    gib = 2 ** 30
    lines += ["## Memory", "",
              "Peak resident memory of `sr_core.upscale` (the CLI's path) on a square photo at 4x, "
              "automatic tile size, in a fresh process: its `VmHWM` (`/proc/self/status`). Not `ru_maxrss`: "
              "Linux carries the parent's resident size at `fork` into the child's `ru_maxrss` across `exec`, "
              "so there it shows this benchmark process's size, not the upscale's.", "",
              "| model | input | tile | peak resident memory | seconds |", "|---|---|---:|---:|---:|"]
    for name, r in mem["upscale"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error']} | | | |")
            continue
        lines.append(f"| {name} | {r['size']}x{r['size']} | {r['tile']} | {_f(peak_bytes(r) / gib)} GiB | "
                     f"{_f(r['seconds'], 1)} |")
    lines += ["", "Forward-pass memory per input pixel (peak increase of one tile, fresh process) against "
              "`sr_core.inference.bytes_per_input_pixel` (what `auto_tile_size` divides its budget by):", "",
              "| model @ tile | measured bytes/px | estimate bytes/px | estimate / measured |",
              "|---|---:|---:|---:|"]
    for key, r in mem["forward"].items():
        if "error" in r:
            lines.append(f"| {key} | error: {r['error']} | | |")
            continue
        lines.append(f"| {key} | {_f(r['bytes_per_input_pixel'], 0)} | {r['estimate_bytes_per_input_pixel']:,} | "
                     f"{_f(r['estimate_bytes_per_input_pixel'] / r['bytes_per_input_pixel'])} |")
    lines += ["", f"Automatic tile size on this machine: {mem['auto_tile']}.", "",
              "Tiled vs whole-image output (float outputs, RGB PSNR):", "",
              "| model | weights | input | tile | PSNR dB | mean abs diff (1/255) | max abs diff (1/255) |",
              "|---|---|---|---:|---:|---:|---:|"]
    for name, r in mem["agreement"].items():
        lines.append(f"| {name} | {r['weights']} | {r['size']}x{r['size']} | {r['tile']} | {_f(r['psnr_db'], 1)} | "
                     f"{_f(r['mean_abs_diff_in_255'], 3)} | {_f(r['max_abs_diff_in_255'], 2)} |")
    lines.append("")
    return lines


def training_md(res: dict) -> list[str]:
    """## Training throughput: the real loader against the in-memory feed."""
    tr = res.get("training")
    if not tr:
        return []
    lines = []
    if "skipped" in tr:
        lines += ["## Training throughput", "", tr["skipped"], ""]
    else:
        lines += ["## Training throughput", "",
                  f"`pixel_step` (Adam, L1, channels-last), batch {tr['batch']}, HR crop {tr['crop']}. Loader: "
                  f"`SRTrainSet` ({tr['images']} images decoded once in {_f(tr['decode_seconds'], 1)} s and "
                  "cached) + `StepSampler` + `DataLoader` (persistent workers, prefetch 4), as "
                  "`train/loop.py` builds it. "
                  f"One batch costs the loader {_f(tr['batch_ms'], 1)} ms of CPU ({_f(tr['sample_ms'], 2)} ms a "
                  "sample). Memory feed: the same batches pre-made as tensors. Feeds interleaved in rounds of "
                  "the same iterations; the best round of each is shown.", "",
                  "| model | in-memory it/s | loader, 0 workers | loader, 1 worker | loader, 2 workers | "
                  "gap (0 / 1 / 2 workers) |", "|---|---:|---:|---:|---:|---|"]
        for name, r in tr["models"].items():
            lines.append(f"| {name} | {_f(r['memory'], 3)} | {_f(r['loader_0w'], 3)} | {_f(r['loader_1w'], 3)} | "
                         f"{_f(r['loader_2w'], 3)} | " + " / ".join(f"{v * 100:.1f} %" for v in r["gap"].values())
                         + " |")
        lines.append("")
    return lines


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def speed_targets(res: dict) -> list[str]:
    """The model-speed targets (``TARGETS``), from the models and cli sections."""
    t, out = TARGETS, []
    m = (res.get("models") or {}).get("models", {})

    def mpx(name: str) -> float:
        return m[name]["optimized"]["mpx_per_s"]

    if "srresnet" in m and "swift-srgan" in m:
        ratio = mpx("swift-srgan") / mpx("srresnet")
        out.append(f"swift-srgan / srresnet output Mpx/s on CPU: {ratio:.2f}x (target >= "
                   f"{t['swift_srgan_vs_srresnet']:g}x): {_verdict(ratio >= t['swift_srgan_vs_srresnet'])}")
    if "srresnet" in m and "fraction_of_peak" in m["srresnet"]["optimized"]:
        frac, want = m["srresnet"]["optimized"]["fraction_of_peak"], t["srresnet_fraction_of_peak"]
        out.append(f"srresnet at {frac * 100:.0f} % of the CPU's float32 peak (target >= {want * 100:.0f} %): "
                   f"{_verdict(frac >= want)}")
    if "fast" in m and "srresnet" in m:
        ratio = mpx("fast") / mpx("srresnet")
        out.append(f"fast / srresnet output Mpx/s (model time): {ratio:.2f}x (target >= {t['fast_vs_srresnet']:g}x): "
                   f"{_verdict(ratio >= t['fast_vs_srresnet'])}")
        for p in [p for p in t["fast_peers"] if p in m]:
            r = mpx("fast") / max(m[p]["plain"]["mpx_per_s"], mpx(p))
            out.append(f"fast vs {p} (its faster variant) output Mpx/s: {r:.2f}x (target > {t['fast_vs_peers']:g}x): "
                       f"{_verdict(r > t['fast_vs_peers'])}")
    peer = "realesr-general-x4v3"
    if "real" in m and peer in m:  # the real-photos issue: real vs the real-world peer
        r = mpx("real") / max(m[peer]["plain"]["mpx_per_s"], mpx(peer))
        out.append(f"real vs {peer} (its faster variant) output Mpx/s: {r:.2f}x (target >= "
                   f"{t['real_vs_real_world_peer']:g}x): {_verdict(r >= t['real_vs_real_world_peer'])}")
    cli = (res.get("cli") or {}).get("models", {})
    if "fast" in cli and "srresnet" in cli:
        ratio = cli["fast"]["vs_srresnet"]
        out.append(f"fast / srresnet end to end in the CLI: {ratio:.2f}x (target >= {t['cli_fast_vs_srresnet']:g}x): "
                   f"{_verdict(ratio >= t['cli_fast_vs_srresnet'])}")
    for p in [p for p in t["slow_peers"] if p in m] if "srresnet" in m else ():
        ours, theirs = mpx("srresnet"), m[p]["plain"]["mpx_per_s"]
        out.append(f"srresnet ({ours:.3f} Mpx/s) vs {p}'s plain PyTorch forward ({theirs:.3f} Mpx/s, "
                   f"{m[p]['parameters']:,} parameters): {'at least as fast' if ours >= theirs else 'SLOWER'} "
                   f"({ours / theirs:.2f}x)")
    return out


def targets(res: dict) -> list[str]:
    """One line per target of ``TARGETS`` that ``res`` can answer."""
    t, out = TARGETS, speed_targets(res)
    for name, r in (res.get("training") or {}).get("models", {}).items():
        best = min(r["gap"].items(), key=lambda kv: kv[1])
        out.append(f"training {name}: real loader {best[0]} at {best[1] * 100:.1f} % below the in-memory feed "
                   f"(target <= {t['loader_gap'] * 100:.0f} %): {_verdict(best[1] <= t['loader_gap'])}")
    mem = res.get("memory") or {}
    for name, r in mem.get("upscale", {}).items():
        if "size" in r and "(before)" not in name:
            gib = peak_bytes(r) / 2 ** 30
            limit = t["peak_memory_gib"]["fast" if name.startswith("fast") else "other"]
            out.append(f"peak memory, {name}, {r['size']}x{r['size']} at 4x: {gib:.2f} GiB (target < {limit:g} GiB"
                       f"{'' if r['size'] == 2048 else ', measured at a smaller size'}): {_verdict(gib < limit)}")
    db, diff = t["tiled_psnr_db"], t["tiled_mean_diff_255"]
    for name, r in mem.get("agreement", {}).items():
        out.append(f"tiled vs whole, {name}: {r['psnr_db']:.1f} dB, mean diff {r['mean_abs_diff_in_255']:.3f}/255 "
                   f"(target > {db:g} dB, < {diff:g}/255): "
                   f"{_verdict(r['psnr_db'] > db and r['mean_abs_diff_in_255'] < diff)}")
    return out
