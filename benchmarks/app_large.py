"""The local app's Upscale button on a large photo: wall time and peak memory per output scale.

    python -m benchmarks.app_large                                   # 4000x3000 JPEG, x2 and x4, real
    python -m benchmarks.app_large --size 64x48 --scales 2 --model bicubic --out /tmp/x   # what the test runs
    python -m benchmarks.app_large --photo my_phone_photo.jpg       # your own photo, resized to --size

The input: the largest photo in the shared data (``sr_train`` and ``sr_benchmark``, the first of the largest
in path order), or ``--photo``, centre-cropped to the aspect ratio of ``--size``, resized to it with Pillow
bicubic and saved as a JPEG at quality 90 in a temporary folder (nothing is written into the repository).

Each scale runs in a fresh ``python -m demo.measure`` process (the benchmarks run the app, they do not import
it: tests/test_layout.py) with the app's local settings (``SPACE_ID``, ``SR_APP_MAX_PIXELS``, ``SR_MAX_PIXELS``
and ``SR_APP_TILE`` removed from its environment: the 16 Mpx CLI limit and 256 px tiles) and its own
``TMPDIR``. The child does what pressing *Upscale* does, with the tab's defaults (format PNG; ``real`` at
``sr_core.detail.DEFAULT_DETAIL``): ``demo.callbacks.upscale_image`` (model loading, the upscale and the output
file), then ``demo.callbacks.result_views`` (the slider's two images and, for an output over 4 Mpx, the second
download in the other format). Not counted: the browser's upload and download and Gradio copying the returned
files into its cache.

Peak memory is the child's ``VmHWM`` (the high-water mark of its resident set, from ``/proc/self/status``),
which includes Python, torch and Gradio (the resident size after imports is given too). ``ru_maxrss`` is
recorded beside it but is not the figure: on Linux a child started by ``fork``/``vfork`` carries the parent's
peak across ``exec`` into its ``ru_maxrss`` (and ``RUSAGE_CHILDREN`` is the maximum over all children).

Writes ``<out>/app_large.json`` and ``app_large.md`` (default ``reports/app_large``) and prints the Markdown.
Exit status 1 if a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

STEM = "app_large"
DEFAULT_SIZE = (4000, 3000)
DEFAULT_SCALES = (2, 4)
JPEG_QUALITY = 90
# removed from the child's environment, so it runs as the app does locally with its defaults
APP_SETTINGS = ("SPACE_ID", "SR_APP_MAX_PIXELS", "SR_MAX_PIXELS", "SR_APP_TILE")
GIB = 2 ** 30


def parse_size(text: str) -> tuple[int, int]:
    """``"4000x3000"`` -> (4000, 3000)."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, not {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return w, h


def parse_scales(text: str) -> list[int]:
    try:
        scales = [int(s.strip().lstrip("x×")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales must be like 2,4, not {text!r}") from None
    if not scales or any(s not in (2, 3, 4) for s in scales):
        raise argparse.ArgumentTypeError(f"scales must be among 2, 3, 4 (the app's choices), not {text!r}")
    return scales


# --- the input ------------------------------------------------------------------------------------------------

def largest_photo() -> Path | None:
    """The photo with the most pixels in the shared data (``sr_train``, ``sr_benchmark``); the first in path
    order among equals; None without the data."""
    from PIL import Image

    from sr_core import config
    from sr_core.io import list_images

    root = config.data_root()
    best, best_px = None, -1
    for p in sorted(list_images([d for d in (root / "sr_train", root / "sr_benchmark") if d.is_dir()])):
        try:
            with Image.open(p) as im:
                px = im.width * im.height
        except OSError:
            continue
        if px > best_px:
            best, best_px = p, px
    return best


def make_input(folder: Path, size: tuple[int, int], photo: Path | None = None) -> dict:
    """Write the input JPEG into ``folder``; return its description (path, source, size, bytes)."""
    from PIL import Image, ImageOps

    w, h = size
    src = photo if photo is not None else largest_photo()
    if src is None:  # no shared data: a synthetic picture (edges, gradients, noise), said so in the report
        import numpy as np

        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        arr = np.stack([128 + 100 * np.sin(xx / 7) * np.cos(yy / 11), xx * 255 / w, yy * 255 / h], -1)
        arr += rng.normal(0, 6, arr.shape).astype(np.float32)
        img, source, source_size = Image.fromarray(arr.clip(0, 255).astype("uint8")), "synthetic", [w, h]
    else:
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        source, source_size = str(src), list(im.size)
        if im.width * h > im.height * w:  # wider than the target: crop the sides
            cw, ch = round(im.height * w / h), im.height
        else:
            cw, ch = im.width, round(im.width * h / w)
        left, top = (im.width - cw) // 2, (im.height - ch) // 2
        img = im.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BICUBIC)
    path = folder / f"input_{w}x{h}.jpg"
    img.save(path, format="JPEG", quality=JPEG_QUALITY)
    return {"path": str(path), "source": source, "source_size": source_size, "size": [w, h],
            "jpeg_quality": JPEG_QUALITY, "bytes": path.stat().st_size,
            "how": f"centre crop to the {w}:{h} aspect ratio, Pillow bicubic resize to {w}x{h}, "
                   f"JPEG quality {JPEG_QUALITY}"}


# --- the parent: one fresh process per scale --------------------------------------------------------------------

def child_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env["TMPDIR"] = str(tmp)  # the app's per-request folders (tempfile) go here, removed after the run
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return env


def run_one(image: Path, scale: int, model: str | None, detail: float | None, fmt: str, tmp: Path,
            timeout: float) -> dict:
    """One scale in a fresh process; the child's result plus the process's wall time (imports included)."""
    cmd = [sys.executable, "-m", "demo.measure", str(image), "--scale", str(scale), "--format", fmt]
    if model:
        cmd += ["--model", model]
    if detail is not None:
        cmd += ["--detail", str(detail)]
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=child_env(tmp), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"scale": scale, "error": f"timed out after {timeout:g} s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"scale": scale, "error": f"exit status {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    return {**json.loads(lines[-1]), "process_seconds": round(wall, 3)}


def _gib(n: int | None) -> str:
    return f"{n / GIB:.2f}" if n is not None and n >= 0 else "?"


def _mb(n: int) -> str:
    """MB as the app's download box counts them (MiB); kB below one."""
    return f"{n / 2 ** 20:.1f} MB" if n >= 2 ** 20 else f"{n / 2 ** 10:.0f} kB"


FILE_LABELS = {"output": "", "second_download": "", "slider_input": "slider input ",
               "slider_output_centre": "slider centre "}


def _file_label(key: str, f: dict) -> str:
    """``PNG 123.4 MB``, ``slider input PNG 5.0 MB``."""
    kind = Path(f["name"]).suffix[1:].upper().replace("JPG", "JPEG")
    return f"{FILE_LABELS.get(key, key + ' ')}{kind} {_mb(f['bytes'])}"


def markdown(res: dict) -> str:
    inp, m = res["input"], res["machine"]
    ok = [r for r in res["runs"] if "error" not in r]
    first = ok[0] if ok else {}
    model = first.get("model", res["settings"]["model"] or "default")
    if first.get("detail") is not None:
        model += f" (detail {first['detail']:g})"
    lines = [
        f"# The local app's Upscale on a {inp['size'][0]}x{inp['size'][1]} JPEG", "",
        f"Command: `{res['command']}`.", "",
        f"Machine: {m.get('cpu', '?')}, {m.get('usable_cores', '?')} usable cores, torch {m.get('torch', '?')} "
        f"({first.get('torch_threads', '?')} threads), device {first.get('device', '?')}; load average at start "
        f"{' '.join(f'{v:.2f}' for v in m.get('load_average_at_start') or [])}; commit {m.get('git_commit', '?')}, "
        f"{m.get('date', '?')}.", "",
        f"Input: {inp['how']}, from `{inp['source']}` ({inp['source_size'][0]}x{inp['source_size'][1]}); "
        f"{_mb(inp['bytes'])}." + (
            " The source has fewer pixels than the input, so the input is smoother than a camera photo of this "
            "size: the network's time does not depend on the content, but the PNG and JPEG files (sizes and "
            "encoding times) of a detailed photo are larger." if inp["source_size"][0] * inp["source_size"][1]
            < inp["size"][0] * inp["size"][1] and inp["source"] != "synthetic" else ""), "",
        f"Model **{model}**, format {res['settings']['format']}, the app's local limits (at most "
        f"{format(first['max_input_pixels'], ',') if first else '?'} input pixels, {first.get('tile', '?')} px tiles). Each scale in a "
        "fresh process (`python -m demo.measure`): `demo.callbacks.upscale_image` then `result_views`, what the "
        "Upscale button runs.", "",
        "| scale | input | output | model load (s) | upscale (s) | save (s) | slider + 2nd download (s) "
        "| **button total (s)** | process (s) | **peak RSS (GiB)** | RSS after imports (GiB) | files |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        if "error" in r:
            lines.append(f"| x{r['scale']} | failed: {r['error'].splitlines()[-1][:200]} |" + " |" * 10)
            continue
        files = ", ".join(_file_label(k, f) for k, f in r["files"].items())
        lines.append(
            f"| x{r['scale']} | {r['input_size'][0]}x{r['input_size'][1]} "
            f"| {r['output_size'][0]}x{r['output_size'][1]} "
            f"| {r['load_seconds']:.2f} | {r['upscale_seconds']:.2f} | {r['save_seconds']:.2f} "
            f"| {r['views_seconds']:.2f} | **{r['button_seconds']:.2f}** | {r['process_seconds']:.2f} "
            f"| **{_gib(r['peak_rss_bytes'])}** | {_gib(r['rss_after_import_bytes'])} | {files} |")
    lines += [
        "",
        "Button total = model load + upscale (network and Lanczos resize to the scale) + save (the output file) + "
        "the slider's images and the second download; process adds starting Python and importing torch and "
        "Gradio. Peak RSS is the process's `VmHWM`, imports included. Not measured: upload, download and "
        "Gradio's copy of the returned files into its cache.",
    ]
    return "\n".join(lines) + "\n"


def run(size: tuple[int, int], scales: list[int], model: str | None = None, detail: float | None = None,
        fmt: str = "PNG", photo: Path | None = None, timeout: float = 3600, log=print) -> dict:
    """Make the input, run each scale in a fresh process; return the report's data."""
    res: dict = {"settings": {"size": list(size), "scales": scales, "model": model, "detail": detail, "format": fmt,
                              "environment_removed": list(APP_SETTINGS)}}
    with tempfile.TemporaryDirectory(prefix="app-large-") as tmp:
        tmp = Path(tmp)
        res["input"] = make_input(tmp, size, photo)
        res["runs"] = []
        for scale in scales:
            log(f"app_large: {size[0]}x{size[1]} x{scale} (fresh process)")
            row = run_one(Path(res["input"]["path"]), scale, model, detail, fmt, tmp / f"x{scale}", timeout)
            res["runs"].append(row)
            log("  " + (row["error"] if "error" in row else
                        f"{row['button_seconds']:.2f} s, peak RSS {_gib(row['peak_rss_bytes'])} GiB"))
        res["input"]["path"] = Path(res["input"]["path"]).name  # the temporary folder is gone
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_large", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, help="input WIDTHxHEIGHT (default 4000x3000)")
    parser.add_argument("--scales", type=parse_scales, default=list(DEFAULT_SCALES),
                        help="output scales, comma-separated (default 2,4)")
    parser.add_argument("--model", default=None, help="default: the Upscale tab's (real, with weights)")
    parser.add_argument("--detail", type=float, default=None,
                        help="real only; default: the tab's slider default (sr_core.detail.DEFAULT_DETAIL)")
    parser.add_argument("--format", default="PNG", choices=("PNG", "JPEG", "WebP"), help="output format (default PNG)")
    parser.add_argument("--photo", type=Path, default=None,
                        help="source photo (default: the largest in the shared data), cropped and resized to --size")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run (default 3600)")
    parser.add_argument("--out", default=f"reports/{STEM}", help=f"report folder (default reports/{STEM})")
    args = parser.parse_args(argv)
    from benchmarks.hardware import machine_info
    from benchmarks.report import write_report

    machine = machine_info()  # before the runs: the load average at start
    res = run(args.size, args.scales, args.model, args.detail, args.format, args.photo, args.timeout,
              log=lambda s: print(s, file=sys.stderr))
    res = {"command": "python -m benchmarks.app_large " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine, **res}
    write_report(args.out, STEM, res, markdown(res))
    return 1 if any("error" in r for r in res["runs"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
