"""Latency of the app's ``/upscale`` endpoint per model, measured through ``gradio_client``.

    python benchmarks/app_latency.py                      # start app.py on a free port, models with weights
    python benchmarks/app_latency.py --random-weights     # also the learned presets, randomly initialised
    python benchmarks/app_latency.py --url http://127.0.0.1:7860/   # an app that is already running

For each model: one warm-up request (it loads the model), then ``--runs`` timed
requests with the same 256x256 image. Prints a Markdown table of the median
(and min/max) round trip, and of the server-side upscaling time from the
returned info (``seconds``: the network only, without upload, PNG encoding and
download). ``--random-weights`` writes every learned preset with its default
hyper-parameters into a temporary weights folder: random weights cost exactly
what trained ones do, so this measures the architectures before training ends.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def test_image(path: Path, size: int) -> Path:
    """A size x size crop of a BSD100 photo (or a synthetic one when the data is absent), saved as PNG."""
    from PIL import Image

    from sr_core import config

    src = config.benchmark_dir("BSD100") / "img_014.png"
    if src.is_file():
        img = Image.open(src).convert("RGB")
        img = img.resize((max(size, img.width), max(size, img.height)), Image.BICUBIC).crop((0, 0, size, size))
    else:
        import numpy as np

        yy, xx = np.mgrid[0:size, 0:size]
        arr = np.stack([128 + 100 * np.sin(xx / 5) * np.cos(yy / 7), xx * 255 / size, yy * 255 / size], -1)
        img = Image.fromarray(arr.clip(0, 255).astype("uint8"))
    img.save(path)
    return path


def start_app(weights_dir: Path | None, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    if weights_dir is not None:
        env["SR_WEIGHTS_DIR"] = str(weights_dir)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise TimeoutError("app.py did not start") from None
            time.sleep(0.5)


def random_weights(directory: Path) -> None:
    import torch

    import sr_core
    from sr_core.nets import CLASSICAL, NET_PRESETS

    torch.manual_seed(0)
    for name in NET_PRESETS:
        if name not in CLASSICAL:
            sr_core.save_pretrained(sr_core.build_preset(name), directory / name, name=name, note="random weights")


def measure(url: str, image: Path, runs: int) -> list[dict]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=tempfile.mkdtemp(prefix="app-latency-"))
    api = client.view_api(print_info=False, return_format="dict")
    names = api["named_endpoints"]["/upscale"]["parameters"][1]["type"].get("enum") or ["bicubic"]
    rows = []
    for name in names:
        t0 = time.perf_counter()
        client.predict(handle_file(str(image)), name, api_name="/upscale")  # warm-up: loads the model
        first = time.perf_counter() - t0
        total, server = [], []
        for _ in range(max(1, runs)):
            t0 = time.perf_counter()
            _, info = client.predict(handle_file(str(image)), name, api_name="/upscale")
            total.append(time.perf_counter() - t0)
            server.append(info["seconds"])
        rows.append({"model": name, "first": first, "median": statistics.median(total), "min": min(total),
                     "max": max(total), "server": statistics.median(server), "device": info["device"]})
        print(f"  {name}: median {rows[-1]['median']:.3f} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start app.py on a free port)")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per model (default 5)")
    parser.add_argument("--size", type=int, default=256, help="input side in pixels (default 256)")
    parser.add_argument("--random-weights", action="store_true",
                        help="serve every learned preset with random weights (only when starting the app)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="app-latency-") as tmp:
        tmp = Path(tmp)
        image = test_image(tmp / "input.png", args.size)
        proc = None
        url = args.url
        if url is None:
            weights = None
            if args.random_weights:
                weights = tmp / "weights"
                random_weights(weights)
            proc, url = start_app(weights, tmp / "app.log")
        try:
            rows = measure(url, image, args.runs)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    print(f"\n/upscale latency, {args.size}x{args.size} input -> {4 * args.size}x{4 * args.size} output, "
          f"{args.runs} runs after one warm-up, device {rows[0]['device'] if rows else '?'}, "
          f"{os.cpu_count()} CPUs{load}{' (random weights for learned models)' if args.random_weights else ''}\n")
    print("| model | median round trip (s) | min | max | server upscale, median (s) | first request (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {r['server']:.3f} "
              f"| {r['first']:.3f} |")


if __name__ == "__main__":
    main()
