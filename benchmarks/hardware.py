"""What the CPU can do: its description, its theoretical float32 peak, and measured ceilings.

Theoretical peak = cores x FMA units per core x float32 SIMD lanes x 2 (an FMA
is a multiply and an add) x clock. Cores and flags come from ``/proc/cpuinfo``
and ``lscpu``; the lanes from the flags (avx512f: 16, avx2: 8, sse: 4); the FMA
units per core from the vendor and family (a table, with the assumption stated
in the output); the clock both as reported (``cpu MHz``, under a hypervisor
usually the nominal TSC rate) and as measured by a chain of dependent integer
adds (one per cycle). A C microkernel of independent FMAs (compiled here with
the system C compiler, when there is one) measures the FMA throughput itself,
one process per core at once; a large float32 matmul (MKL) and a 3x3
convolution (oneDNN) give the practical ceilings of the libraries PyTorch uses.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

_KERNEL = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef float vec __attribute__((vector_size(LANES * 4)));
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "clock")) {      /* dependent adds: one per cycle */
        long x = 0;
        double t = now();
        for (long k = 0; k < n; k++) __asm__ volatile(".rept 100\n\tadd $1, %0\n\t.endr" : "+r"(x));
        t = now() - t;
        printf("%.6f\n", n * 100.0 / t / 1e9);
        return x == 0;
    }
    vec a[12], b, c;                      /* 12 independent FMA chains hide the FMA latency */
    for (int j = 0; j < LANES; j++) { b[j] = 0.999999f; c[j] = 1e-7f; }
    for (int i = 0; i < 12; i++) for (int j = 0; j < LANES; j++) a[i][j] = (float)i;
    double t = now();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = a[i] * b + c;
    }
    t = now() - t;
    float s = 0; for (int i = 0; i < 12; i++) s += a[i][0];
    printf("%.6f %g\n", n * 12.0 * LANES * 2 / t / 1e9, s);
    return 0;
}
"""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_info() -> dict:
    """Model, vendor, family, flags, cores and reported clock of this machine's CPU."""
    text = _read("/proc/cpuinfo")
    first = text.split("\n\n")[0]
    fields = {}
    for line in first.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    lscpu = {}
    if shutil.which("lscpu"):
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
            for line in out.splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    lscpu[k.strip()] = v.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads_per_core = int(lscpu.get("Thread(s) per core", "1") or 1)
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)]
    return {
        "model_name": fields.get("model name") or lscpu.get("Model name", "unknown"),
        "vendor": fields.get("vendor_id") or lscpu.get("Vendor ID", "unknown"),
        "family": int(fields.get("cpu family", lscpu.get("CPU family", "0")) or 0),
        "model": int(fields.get("model", lscpu.get("Model", "0")) or 0),
        "flags": fields.get("flags", lscpu.get("Flags", "")).split(),
        "logical_cpus": usable,
        "threads_per_core": threads_per_core,
        "cores": max(1, usable // threads_per_core),
        "hypervisor": lscpu.get("Hypervisor vendor"),
        "reported_mhz": max(mhz) if mhz else None,
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def machine_info() -> dict:
    """What a report records about the run: CPU (``cpu_info``), cores, torch threads and versions, the load
    average at start, the git commit and the date."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1], timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu_info()["model_name"], "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cuda": torch.cuda.is_available(),
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "git_commit": commit, "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def fma_layout(info: dict) -> dict:
    """FMA units per core and float32 lanes per unit, with the assumption behind them."""
    flags, vendor, family = set(info["flags"]), info["vendor"], info["family"]
    if "avx512f" in flags:
        lanes = 16
    elif "avx2" in flags or "avx" in flags:
        lanes = 8
    else:
        lanes = 4
    units, note = 2, "2 FMA units per core (most x86 server cores since Haswell)"
    if vendor == "AuthenticAMD":
        if family >= 0x1A:
            units, note = 2, "AMD family 1Ah (Zen 5): 2 FMA pipes, full 512-bit datapath"
        elif family == 0x19 and lanes == 16:
            units, lanes = 2, 8
            note = "AMD family 19h with AVX-512 (Zen 4): 2 x 256-bit FMA, 512-bit ops take two passes"
        elif family == 0x19:
            units, note = 2, "AMD family 19h (Zen 3): 2 x 256-bit FMA"
        elif family == 0x17:
            units, note = 2, "AMD family 17h (Zen 1/2): 2 FMA pipes (Zen 1: 128-bit, counted as 256-bit)"
    elif vendor == "GenuineIntel" and lanes == 16:
        note = "Intel AVX-512: 2 FMA units assumed (Xeon Gold/Platinum; some parts have 1)"
    if "fma" not in flags and lanes > 4:
        units, note = 1, "no FMA flag: one multiply-add pipe assumed"
    return {"fma_units_per_core": units, "fp32_lanes": lanes, "flop_per_cycle_per_core": units * lanes * 2,
            "note": note}


def _compile_kernel(lanes: int) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="sr_bench_"))
    src, exe = tmp / "peak.c", tmp / "peak"
    src.write_text(_KERNEL)
    try:
        subprocess.run([cc, "-O2", "-march=native", f"-DLANES={lanes}", str(src), "-o", str(exe)],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return exe


def measure_cpu(info: dict, quick: bool = False) -> dict:
    """Measured clock (dependent adds) and FMA throughput, single core and all cores at once."""
    layout = fma_layout(info)
    exe = _compile_kernel(layout["fp32_lanes"] if layout["fp32_lanes"] == 16 else 8)
    if exe is None:
        return {"available": False, "reason": "no C compiler found"}
    n_clock, n_fma = (5_000_000, 30_000_000) if quick else (20_000_000, 150_000_000)

    def run_many(kind: str, n: int, copies: int) -> list[float]:
        procs = [subprocess.Popen([str(exe), kind, str(n)], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
        return [float(p.communicate()[0].split()[0]) for p in procs]

    clock = statistics.median(run_many("clock", n_clock, 1) + run_many("clock", n_clock, 1))
    single = max(run_many("fma", n_fma, 1))
    allcores = run_many("fma", n_fma, info["cores"])
    shutil.rmtree(exe.parent, ignore_errors=True)
    return {"available": True, "clock_ghz": clock, "fma_gflops_one_core": single,
            "fma_gflops_all_cores": sum(allcores), "fma_flop_per_cycle": single / clock,
            "timer": "thread CPU time (not disturbed by other processes taking the core away)"}


def _median_time(fn, warmup: int, runs: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@torch.inference_mode()
def library_ceilings(quick: bool = False) -> dict:
    """GFLOP/s of a large float32 matmul (MKL) and of a channels-last 3x3 64->64 convolution (oneDNN)."""
    n = 1024 if quick else 4096
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = _median_time(lambda: a @ b, 1, 3 if quick else 5)
    size = 64 if quick else 256
    x = torch.randn(1, 64, size, size).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3).contiguous(memory_format=torch.channels_last)
    tc = _median_time(lambda: F.conv2d(x, w, padding=1), 2, 3 if quick else 7)
    return {"matmul_n": n, "matmul_gflops": 2 * n ** 3 / t / 1e9,
            "conv3x3_shape": f"1x64x{size}x{size} -> 64, channels-last",
            "conv3x3_gflops": 2 * 64 * 64 * 9 * size * size / tc / 1e9, "threads": torch.get_num_threads()}


def describe(quick: bool = False) -> dict:
    """Everything above, plus the peaks: theoretical at the reported and at the measured clock."""
    info = cpu_info()
    layout = fma_layout(info)
    measured = measure_cpu(info, quick)
    per_cycle = info["cores"] * layout["flop_per_cycle_per_core"]
    peaks = {}
    if info["reported_mhz"]:
        peaks["reported_clock_gflops"] = per_cycle * info["reported_mhz"] / 1000
    if measured.get("available"):
        peaks["measured_clock_gflops"] = per_cycle * measured["clock_ghz"]
    reference = peaks.get("measured_clock_gflops") or peaks.get("reported_clock_gflops")
    return {"cpu": {k: v for k, v in info.items() if k != "flags"},
            "simd_flags": sorted(f for f in info["flags"] if f.startswith(("avx", "fma", "sse4")) or f == "f16c"),
            "fma_layout": layout, "measured": measured, "peaks": peaks, "peak_gflops": reference,
            "peak_formula": f"{info['cores']} cores x {layout['fma_units_per_core']} FMA units x "
                            f"{layout['fp32_lanes']} lanes x 2 x clock",
            "libraries": library_ceilings(quick)}
