"""The app under load: N concurrent ``gradio_client`` clients, good and bad inputs, for a bounded time.

    python -m benchmarks.app_load                          # 8 clients, 120 s, the shipped weights
    python -m benchmarks.app_load --clients 4 --seconds 20 --tiny-model   # what the test runs
    python -m benchmarks.app_load --url http://127.0.0.1:7860/            # an app that is already running

Starts ``python app.py`` on a free loopback port (unless ``--url``), then every client loops until
the time is up, each request a random pick of:

* good inputs: an RGB photo crop (PNG and JPEG), an RGBA PNG, a greyscale PNG, sent to ``/upscale``
  (``bicubic`` or ``srresnet``) or ``/compare``; the output's size is checked (4x for ``/upscale``);
* bad inputs: an empty file, a text file named ``.png``, a truncated PNG, a PNG header claiming
  50000 x 50000 pixels (a decompression bomb), and an image over the app's pixel limit
  (``SR_APP_MAX_PIXELS``, set small here).

Each answer is counted as ``ok``, ``refused`` (a bad input answered with the app's clear error
message), ``queue_full`` (Gradio's queue at ``max_size``) or ``error`` (anything else: a wrong
output, a good input refused, a crash, a timeout). Only ``error`` is a failure. The server's
resident memory is sampled from ``/proc`` every 0.25 s: peak, and the growth between the first and
the last third of the run (after a warm-up pass over every input kind), so a leak shows.

Writes ``<out>/app_load.json`` and ``app_load.md`` (default ``reports/app_load``) and prints the table.
Exit status 1 if any ``error`` occurred.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.app_server import memory_kib, running_app  # noqa: E402

OUTCOMES = ("ok", "refused", "queue_full", "error")
APP_MAX_PIXELS = 250_000
ENDPOINTS = ("/upscale", "/compare")
# what the app's refusal of each bad input kind must say (demo/callbacks.py); any other message is an error
EXPECTED_REFUSALS = {
    "too_large": "this app accepts at most",
    "empty": "empty",
    "text": "image format",
    "truncated": "truncated or corrupt",
    "bomb": "decompression bomb",
}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_inputs(folder: Path, size: int = 64) -> dict[str, tuple[Path, bool]]:
    """Input files by kind -> (path, is_good). Good ones are crops of a bundled example photo."""
    import numpy as np
    from PIL import Image

    src = REPO_ROOT / "demo" / "examples" / "dog_4014.jpg"
    photo = Image.open(src).convert("RGB") if src.is_file() else Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (size * 2, size * 2, 3), dtype=np.uint8))
    crop = photo.resize((size, size), Image.BICUBIC)
    files: dict[str, tuple[Path, bool]] = {}

    def save(kind: str, name: str, img, good: bool, **kw):
        path = folder / name
        img.save(path, **kw)
        files[kind] = (path, good)  # by kind: rgb.png and rgb.jpg share a stem, both are sent

    save("rgb_png", "rgb.png", crop, True)
    save("rgb_jpg", "rgb.jpg", crop, True, quality=90)
    rgba = crop.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((size, size)))
    save("rgba", "rgba.png", rgba, True)
    save("grey", "grey.png", crop.convert("L"), True)
    side = int(APP_MAX_PIXELS ** 0.5) + 50
    save("too_large", "too_large.png", photo.resize((side, side)), False)

    (folder / "empty.png").write_bytes(b"")
    files["empty"] = (folder / "empty.png", False)
    (folder / "text.png").write_text("this is not an image\n")
    files["text"] = (folder / "text.png", False)
    buf = io.BytesIO()
    crop.save(buf, format="PNG")
    (folder / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    files["truncated"] = (folder / "truncated.png", False)
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
            + _png_chunk(b"IEND", b""))
    (folder / "bomb.png").write_bytes(bomb)
    files["bomb"] = (folder / "bomb.png", False)
    return files


def classify_exception(err: Exception) -> tuple[str, str]:
    """(outcome, message) for an exception raised by ``Client.predict``."""
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    low = msg.lower()
    if "queue" in low and "full" in low:
        return "queue_full", msg
    from gradio_client.exceptions import AppError

    if isinstance(err, AppError):
        return "refused", msg
    return "error", f"{type(err).__name__}: {msg}"


def one_request(client, path: Path, good: bool, rng: random.Random, endpoint: str | None = None,
                expected: str | None = None) -> tuple[str, str, str]:
    """Send one request (to ``endpoint``, else a random one: bad inputs go to both); return (endpoint, outcome,
    detail). A bad input counts as ``refused`` only if the app's message contains ``expected``."""
    from gradio_client import handle_file
    from PIL import Image

    if endpoint is None:
        endpoint = "/compare" if rng.random() < 0.25 else "/upscale"
    model = rng.choice(["bicubic", "srresnet"])
    try:
        if endpoint == "/upscale":
            out, info = client.predict(handle_file(str(path)), model, api_name="/upscale")
            with Image.open(path) as src, Image.open(out) as res:
                want = (4 * src.width, 4 * src.height)
                if res.size != want:
                    return endpoint, "error", f"output {res.size}, expected {want}"
        else:
            lr, bic, sr, hr, readouts = client.predict(handle_file(str(path)), model, "standard", api_name="/compare")
            if "psnr" not in json.dumps(readouts).lower():
                return endpoint, "error", f"no PSNR in the readouts: {readouts}"
    except Exception as err:  # noqa: BLE001 - every failure is counted, none may escape
        outcome, detail = classify_exception(err)
        if outcome == "refused" and good:
            return endpoint, "error", f"good input refused: {detail}"
        if outcome == "refused" and expected and expected.lower() not in detail.lower():
            return endpoint, "error", f"{path.name} refused without saying {expected!r}: {detail}"
        return endpoint, outcome, detail
    if not good:
        return endpoint, "error", f"bad input {path.name} accepted"
    return endpoint, "ok", ""


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": v[-1], "mean": statistics.fmean(v)}


def run_load(url: str, inputs: dict[str, tuple[Path, bool]], clients: int, seconds: float, server_pid: int | None,
             downloads: Path, seed: int = 0, timeout: float = 300) -> dict:
    from gradio_client import Client

    records: list[dict] = []
    lock = threading.Lock()
    memory: list[tuple[float, int]] = []
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.is_set():
            if server_pid:
                m = memory_kib(server_pid)
                if "VmRSS" in m:
                    memory.append((time.monotonic(), m["VmRSS"]))
            stop_sampling.wait(0.25)

    # warm-up: every input kind to both endpoints, from one client, so models are loaded and caches filled;
    # recorded, so every kind is known to have reached both endpoints whatever the random picks below
    warm = Client(url, verbose=False, download_files=str(downloads))
    warmup: dict[str, dict[str, dict]] = {}
    for kind, (path, good) in inputs.items():
        for endpoint in ENDPOINTS:
            _, outcome, detail = one_request(warm, path, good, random.Random(0), endpoint,
                                             EXPECTED_REFUSALS.get(kind))
            warmup.setdefault(kind, {})[endpoint] = {"outcome": outcome, "detail": detail[:200]}

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    deadline = start + seconds
    kinds = list(inputs)

    def worker(i: int):
        rng = random.Random(seed * 1000 + i)
        client = Client(url, verbose=False, download_files=str(downloads / f"c{i}"))
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            path, good = inputs[kind]
            t0 = time.monotonic()
            endpoint, outcome, detail = one_request(client, path, good, rng, expected=EXPECTED_REFUSALS.get(kind))
            with lock:
                records.append({"client": i, "input": kind, "good": good, "endpoint": endpoint, "outcome": outcome,
                                "detail": detail, "seconds": time.monotonic() - t0, "t": t0 - start})

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + timeout)
    hung = sum(t.is_alive() for t in threads)
    elapsed = time.monotonic() - start
    stop_sampling.set()
    sampler.join()

    by_outcome = {o: sum(r["outcome"] == o for r in records) for o in OUTCOMES}
    errors: dict[str, int] = {}
    for r in records:
        if r["outcome"] == "error":
            errors[r["detail"][:160]] = errors.get(r["detail"][:160], 0) + 1
    for kind, per in warmup.items():
        for endpoint, w in per.items():
            if w["outcome"] == "error":
                key = f"warm-up {kind} {endpoint}: {w['detail'][:140]}"
                errors[key] = errors.get(key, 0) + 1
    refusals: dict[str, str] = {}
    for r in records:
        if r["outcome"] == "refused":
            refusals.setdefault(r["input"], r["detail"][:200])
    rss = [kib for _, kib in memory]
    third = max(1, len(rss) // 3)
    mem = {}
    if rss:
        mem = {"peak_rss_mib": max(rss) / 1024, "first_third_max_mib": max(rss[:third]) / 1024,
               "last_third_max_mib": max(rss[-third:]) / 1024}
        mem["growth_mib"] = mem["last_third_max_mib"] - mem["first_third_max_mib"]
        hwm = memory_kib(server_pid).get("VmHWM") if server_pid else None
        if hwm:
            mem["peak_hwm_mib"] = hwm / 1024
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(records), "hung_clients": hung,
        "outcomes": by_outcome, "errors": errors, "refusal_messages": refusals,
        "requests_per_second": len(records) / elapsed if elapsed else 0.0,
        "latency_ok": percentiles([r["seconds"] for r in records if r["outcome"] == "ok"]),
        "latency_refused": percentiles([r["seconds"] for r in records if r["outcome"] == "refused"]),
        "latency_by_endpoint": {e: percentiles([r["seconds"] for r in records if r["endpoint"] == e and r["outcome"] == "ok"])
                                for e in ("/upscale", "/compare")},
        "requests_by_input": {k: sum(r["input"] == k for r in records) for k in inputs},
        "requests_by_input_and_endpoint": {k: {e: sum(r["input"] == k and r["endpoint"] == e for r in records)
                                               for e in ENDPOINTS} for k in inputs},
        "warmup": warmup,
        "memory_samples": len(rss),
        "server_memory": mem,
    }


def load_table_md(res: dict) -> str:
    """``app_load.md``: outcomes, latencies and server memory under concurrent load."""
    o, mem = res["outcomes"], res["server_memory"]
    lat = lambda d: " / ".join(f"{d[k]:.2f}" for k in ("p50", "p90", "p99", "max")) if d else "-"  # noqa: E731
    lines = [
        f"# App under load: {res['clients']} concurrent clients for {res['seconds']:.0f} s", "",
        f"Machine: {res.get('machine', '?')}. Model `srresnet`: {res.get('srresnet', '?')}"
        + (f" (sha256 {res['weights_sha256']['srresnet'][:12]})" if res.get("weights_sha256") else "") + ". "
        f"Command: `{res.get('command', 'python -m benchmarks.app_load')}`.", "",
        "| requests | ok | refused (bad input) | queue full | other errors | req/s |", "|---:|---:|---:|---:|---:|---:|",
        f"| {res['requests']} | {o['ok']} | {o['refused']} | {o['queue_full']} | {o['error']} | "
        f"{res['requests_per_second']:.2f} |", "",
        "| latency (s), p50 / p90 / p99 / max | |", "|---|---|",
        f"| good inputs, `/upscale` | {lat(res['latency_by_endpoint'].get('/upscale'))} |",
        f"| good inputs, `/compare` | {lat(res['latency_by_endpoint'].get('/compare'))} |",
        f"| bad inputs (refusal) | {lat(res['latency_refused'])} |", "",
    ]
    if mem:
        lines += [f"Server resident memory: peak {mem['peak_rss_mib']:.0f} MiB; highest in the first third of the run "
                  f"{mem['first_third_max_mib']:.0f} MiB, in the last third {mem['last_third_max_mib']:.0f} MiB "
                  f"(growth {mem['growth_mib']:+.0f} MiB).", ""]
    if res["refusal_messages"]:
        lines += ["Refusal messages (one per bad input kind):", ""]
        lines += [f"- `{k}`: {v}" for k, v in sorted(res["refusal_messages"].items())]
        lines.append("")
    if res["errors"]:
        lines += ["Errors:", ""] + [f"- {n} x {k}" for k, n in res["errors"].items()] + [""]
    return "\n".join(lines)


def tiny_weights(folder: Path) -> None:
    """A 1-block, 8-feature SRResNet as ``srresnet``: the load test then measures the app, not the network."""
    import torch

    import sr_core

    torch.manual_seed(0)
    sr_core.save_pretrained(sr_core.build_preset("srresnet", num_features=8, num_blocks=1), folder / "srresnet",
                            name="srresnet", note="tiny random network for the load test")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--size", type=int, default=64, help="side of the good input images (default 64)")
    ap.add_argument("--url", help="an app that is already running (its memory is then not sampled)")
    ap.add_argument("--tiny-model", action="store_true", help="serve a tiny random srresnet instead of the shipped one")
    ap.add_argument("--out", default="reports/app_load")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="app-load-") as tmp:
        tmp = Path(tmp)
        (tmp / "inputs").mkdir()
        inputs = make_inputs(tmp / "inputs", args.size)
        env = {"SR_APP_MAX_PIXELS": str(APP_MAX_PIXELS), "SR_DEVICE": "cpu", "TMPDIR": str(tmp),
               "GRADIO_TEMP_DIR": str(tmp / "gradio")}
        if args.tiny_model:
            tiny_weights(tmp / "weights")
            env["SR_WEIGHTS_DIR"] = str(tmp / "weights")
        if args.url:
            res = run_load(args.url, inputs, args.clients, args.seconds, None, tmp / "downloads", args.seed)
        else:
            with running_app(tmp / "server.log", env) as (proc, url):
                res = run_load(url, inputs, args.clients, args.seconds, proc.pid, tmp / "downloads", args.seed)
    import platform

    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, no GPU used"
    res["srresnet"] = "tiny random network (--tiny-model)" if args.tiny_model else "the shipped weights"
    if not args.tiny_model and not args.url:  # the file served and its sha256 (tests/test_reports.py)
        from sr_core import config
        from benchmarks.provenance import file_sha256

        served = config.weights_dir() / "srresnet" / "model.safetensors"
        if served.is_file():
            res["weights_sha256"] = {"srresnet": file_sha256(served)}
    res["command"] = "python -m benchmarks.app_load " + " ".join(argv if argv is not None else sys.argv[1:])
    from benchmarks.report import write_report

    write_report(args.out, "app_load", res, load_table_md(res))
    return 1 if res["outcomes"]["error"] or res["errors"] or res["hung_clients"] else 0


if __name__ == "__main__":
    sys.exit(main())
