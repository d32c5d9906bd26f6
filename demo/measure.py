"""Press the Upscale tab's button once, in this process, and print its time and peak memory as one JSON line.

    python -m demo.measure photo.jpg --scale 4 [--model real] [--detail 0.5] [--format PNG]

What ``demo/ui.py`` wires to the button, with the tab's defaults (the default model, ``real`` at
``sr_core.detail.DEFAULT_DETAIL``; PNG): ``callbacks.upscale_image`` (model loading, the upscale and the output
file), then ``callbacks.result_views`` (the slider's two images and, for an output over 4 Mpx, the second
download in the other format). Output files go where the app puts them (a per-request folder under ``TMPDIR``).

Run by ``benchmarks/app_large.py`` in a fresh process per run (the benchmarks do not import the app: they run
it), so the peak memory is this run's own: ``VmHWM`` from ``/proc/self/status``, the high-water mark of this
process's resident set, imports included. ``ru_maxrss`` is reported beside it but is not the figure: on Linux
a process started by ``fork``/``vfork`` carries its parent's peak across ``exec`` into ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sr_core.config import maxrss_bytes, status_bytes


def press_upscale(image: str, scale: int, model: str | None = None, detail: float | None = None,
                  fmt: str = "PNG") -> dict:
    """One press of *Upscale*: ``upscale_image`` then ``result_views``; times, sizes, files and memory."""
    t0 = time.perf_counter()
    import torch

    from sr_core.detail import DEFAULT_DETAIL

    from . import callbacks, models

    import_s = time.perf_counter() - t0
    rss_after_import = status_bytes("VmRSS")
    name = model or models.default_model()
    detail = DEFAULT_DETAIL if detail is None else detail  # the tab's slider starts at the default
    t0 = time.perf_counter()
    path, info = callbacks.upscale_image(image, name, out_scale=scale, fmt=fmt, detail=detail)
    upscale_call_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pair, other, summary = callbacks.result_views(image, path, info)
    views_s = time.perf_counter() - t0
    files = {"output": path}
    if other:
        files["second_download"] = other
    if pair:
        files["slider_input"] = pair[0]
        if pair[1] != path:
            files["slider_output_centre"] = pair[1]
    load_s, run_s = info["load_seconds"] or 0.0, info["seconds"] or 0.0
    return {
        "model": info["model"], "detail": info.get("detail"), "scale": info["scale"], "format": info["format"],
        "input_size": info["input_size"], "output_size": info["output_size"], "tiles": info["tiles"],
        "device": info["device"], "max_input_pixels": info["max_input_pixels"], "tile": callbacks.tile_size(),
        "torch_threads": torch.get_num_threads(),
        "import_seconds": round(import_s, 3),
        "load_seconds": round(load_s, 3),
        "upscale_seconds": round(run_s, 3),
        "save_seconds": round(max(0.0, upscale_call_s - load_s - run_s), 3),
        "views_seconds": round(views_s, 3),
        "button_seconds": round(upscale_call_s + views_s, 3),
        "files": {k: {"name": Path(v).name, "bytes": Path(v).stat().st_size} for k, v in files.items()},
        "rss_after_import_bytes": rss_after_import,
        "peak_rss_bytes": status_bytes("VmHWM"),
        "ru_maxrss_bytes": maxrss_bytes(),
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
    parser.add_argument("--model", default=None, help="default: the Upscale tab's")
    parser.add_argument("--detail", type=float, default=None, help="real only; default: the slider's")
    parser.add_argument("--format", default="PNG", choices=("PNG", "JPEG", "WebP"))
    args = parser.parse_args(argv)
    print(json.dumps(press_upscale(args.image, args.scale, args.model, args.detail, args.format)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
