"""Video: flicker per model, frames per second, and what overlapping the three stages gains.

    python -m benchmarks.video flicker --threads 2     # reports/video/flicker.{md,json} + strip.png
    python -m benchmarks.video speed --threads 2       # reports/video/speed.{md,json}
    python -m benchmarks.video overlap --threads 2     # reports/video/overlap.{md,json}
    python -m benchmarks.video target --threads 2      # reports/video/target.{md,json}: a 10 s 320x240 clip, fast, 4x

Every clip is made here from a BSD100 photo (``SR_DATA_ROOT``) and encoded with libx264 (crf 23), as video
arrives; every run is ``sr_core.video.upscale_video``, i.e. what ``sr-core video`` does, encoding included.

**Flicker.** A window of the photo panned by whole pixels (``--pan`` LR pixels per frame): a still scene whose only
change is the motion, so after undoing the pan (``scale x pan`` output pixels) two consecutive output frames should
agree. What differs comes from the input's compression noise (different in every frame) and how each network
reacts to it: the mean absolute difference (0-255, RGB, a 16 px border left out), against bicubic's on the same
frames (``ratio``; 1.0: as steady as bicubic).

**Speed.** Frames per second of whole runs (decode, network, encode, remux), after a warm-up run per model and
dtype; on a shared machine, so relative within one report.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.hardware import cpu_info
from benchmarks.report import write_report

RATE = Fraction(30000, 1001)
PHOTOS = ("img_003.png", "img_007.png")  # BSD100: a castle (edges) and a tiger (fur, texture a GAN invents)
FLICKER_MODELS = ("bicubic", "fast", "srresnet", "srgan", "swift-srgan", "srcnn", "real-psnr", "real@0.25",
                  "real@0.5", "real@1")


def photo(name: str, min_size: tuple[int, int]) -> Image.Image:
    """A BSD100 photo, landscape, enlarged (bicubic) when smaller than ``min_size``."""
    from sr_core.config import benchmark_dir

    img = Image.open(benchmark_dir("BSD100") / name).convert("RGB")
    if img.height > img.width:
        img = img.transpose(Image.Transpose.ROTATE_90)
    factor = max(min_size[0] / img.width, min_size[1] / img.height, 1.0)
    return img.resize((round(img.width * factor), round(img.height * factor)), Image.BICUBIC) if factor > 1 else img


def pan_clip(img: Image.Image, path: Path, size: tuple[int, int], frames: int, pan: tuple[int, int],
             crf: int = 23) -> Path:
    """``frames`` windows of ``size`` moving ``pan`` pixels a frame across ``img``, H.264 at 30000/1001 fps."""
    import av

    w, h = size
    span_w, span_h = w + pan[0] * (frames - 1), h + pan[1] * (frames - 1)
    if span_w > img.width or span_h > img.height:
        raise ValueError(f"{img.size} photo too small for {frames} frames of {size} panning {pan}")
    left, top = (img.width - span_w) // 2, (img.height - span_h) // 2  # the middle of the photo
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=RATE, options={"crf": str(crf)})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for t in range(frames):
            x, y = left + t * pan[0], top + t * pan[1]
            f = av.VideoFrame.from_image(img.crop((x, y, x + w, y + h)))
            f.pts, f.time_base = t, 1 / RATE
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def load(name: str):
    """A model by name; ``real@0.5`` is ``real`` at detail 0.5 (sr_core.detail)."""
    from sr_core import load_model

    return load_model(name)


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def flicker(frames: list[np.ndarray], shift: tuple[int, int], margin: int = 16) -> float:
    """Mean |O_t(y, x) - O_{t-1}(y + dy, x + dx)| over consecutive frames: the pan (``shift`` = output pixels per
    frame) undone, ``margin`` pixels of border left out. 0-255 scale, RGB."""
    dx, dy = shift
    diffs = []
    for prev, cur in zip(frames, frames[1:]):
        h, w = cur.shape[:2]
        a = cur[margin:h - margin - dy, margin:w - margin - dx].astype(np.float32)
        b = prev[margin + dy:h - margin, margin + dx:w - margin].astype(np.float32)
        diffs.append(float(np.abs(a - b).mean()))
    return float(np.mean(diffs))


def run_flicker(args, tmp: Path) -> None:
    from sr_core.inference import model_scale
    from sr_core.video import upscale_video

    size, pan = (args.width, args.height), (args.pan, args.pan)
    rows, outputs = [], {}
    clips = [pan_clip(photo(p, (args.width + args.pan * args.frames, args.height + args.pan * args.frames)),
                      tmp / f"{Path(p).stem}.mp4", size, args.frames, pan) for p in PHOTOS]
    for name in args.models.split(","):
        model = load(name)
        scale = model_scale(model)
        values = []
        for clip in clips:
            out = tmp / f"{clip.stem}_{name}.mp4"
            upscale_video(model, clip, out, dtype="float32", crf=0, overwrite=True)  # lossless: the model's own
            frames = decode(out)
            values.append(flicker(frames, (pan[0] * scale, pan[1] * scale)))
            outputs[(name, clip.stem)] = frames
        rows.append({"model": name, "flicker": values, "mean": float(np.mean(values))})
        print(f"{name}: {values}", file=sys.stderr, flush=True)
    base = next(r["mean"] for r in rows if r["model"] == "bicubic")
    for r in rows:
        r["ratio"] = r["mean"] / base
    args.out.mkdir(parents=True, exist_ok=True)
    strip(outputs, PHOTOS[1], args.pan * 4, args.out / "strip.png")
    md = [f"# Video flicker\n\nCommand: `{' '.join(['python -m benchmarks.video', *sys.argv[1:]])}`  ",
          f"{_machine()}. Clips: {args.frames} frames of {args.width}x{args.height} windows of BSD100 "
          f"{', '.join(PHOTOS)}, panned {args.pan} px right and down a frame, H.264 crf 23 at 30000/1001 fps; "
          "outputs by `upscale_video` (float32, crf 0: lossless, so the output codec hides nothing). Flicker: mean absolute difference of consecutive output "
          "frames after undoing the pan (0-255, RGB, 16 px border left out); ratio: against bicubic.\n",
          "| model | " + " | ".join(Path(p).stem for p in PHOTOS) + " | mean | vs bicubic |",
          "|---|" + "---:|" * (len(PHOTOS) + 2)]
    for r in rows:
        md.append(f"| `{r['model']}` | " + " | ".join(f"{v:.2f}" for v in r["flicker"])
                  + f" | {r['mean']:.2f} | {r['ratio']:.2f}x |")
    md.append("\n`strip.png`: three consecutive frames of img_007 (aligned), then the difference of the last "
              "two x4, per model.\n")
    write_report(args.out, "flicker", {"command": sys.argv, "machine": _machine_dict(), "frames": args.frames,
                                       "size": size, "pan": pan, "rows": rows}, "\n".join(md))


def strip(outputs: dict, photo_name: str, shift: int, path: Path, models=("bicubic", "fast", "real@0.5", "real@1"),
          crop: int = 96) -> None:
    """Per model a row: the same 96 px patch in three consecutive frames, then |difference| of the last two x4."""
    stem = Path(photo_name).stem
    rows = []
    for name in models:
        frames = outputs.get((name, stem))
        if frames is None:
            continue
        patches = [f[80 + (2 - t) * shift:80 + (2 - t) * shift + crop, 80 + (2 - t) * shift:80 + (2 - t) * shift + crop]
                   for t, f in enumerate(frames[1:4])]
        diff = np.clip(np.abs(patches[2].astype(np.int16) - patches[1]) * 4, 0, 255).astype(np.uint8)
        rows.append(np.concatenate([*patches, diff], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).resize((crop * 4 * 2, crop * len(rows) * 2),
                                                         Image.NEAREST).save(path)


def run_speed(args, tmp: Path) -> None:
    from sr_core.video import upscale_video

    results = []
    img = photo(PHOTOS[0], (640 + 2 * args.frames, 360 + 2 * args.frames))
    for w, h, n in ((320, 240, args.frames), (640, 360, max(2, args.frames // 2))):
        clip = pan_clip(img, tmp / f"speed_{w}x{h}.mp4", (w, h), n, (2, 2))
        for name in args.models.split(","):
            model = load(name)
            for dtype in args.dtypes.split(","):
                upscale_video(model, pan_clip(img, tmp / "warm.mp4", (64, 48), 1, (0, 0)), tmp / "w.mp4",
                              dtype=dtype, overwrite=True)  # warm-up: the optimised network is built once
                for outscale in (None, 2.0):
                    r = upscale_video(model, clip, tmp / "out.mp4", dtype=dtype, outscale=outscale, overwrite=True)
                    results.append({"size": f"{w}x{h}", "frames": n, "model": name, "dtype": dtype,
                                    "scale": "4x" if outscale is None else "--outscale 2", "fps": r.fps,
                                    "output": f"{r.size[0]}x{r.size[1]}"})
                    print(results[-1], file=sys.stderr, flush=True)
    md = [f"# Video speed\n\nCommand: `{' '.join(['python -m benchmarks.video', *sys.argv[1:]])}`  ",
          f"{_machine()}. Frames per second of whole `upscale_video` runs (decode, network, encode, remux; three "
          "threads), 320x240 and 640x360 H.264 clips, after a warm-up run; a shared machine: relative figures.\n",
          "| clip | model | dtype | 4x fps | --outscale 2 fps |", "|---|---|---|---:|---:|"]
    keyed = {(r["size"], r["model"], r["dtype"], r["scale"]): r for r in results}
    for (size, name, dtype, scale), r in keyed.items():
        if scale == "4x":
            md.append(f"| {size} ({r['frames']} frames) | `{name}` | {dtype} | {r['fps']:.2f} | "
                      f"{keyed[(size, name, dtype, '--outscale 2')]['fps']:.2f} |")
    write_report(args.out, "speed", {"command": sys.argv, "machine": _machine_dict(), "results": results},
                 "\n".join(md) + "\n")


def run_overlap(args, tmp: Path) -> None:
    """Pipelined and sequential runs of one clip, interleaved, best of ``--rounds``."""
    from sr_core.video import upscale_video

    img = photo(PHOTOS[0], (320 + 2 * args.frames, 240 + 2 * args.frames))
    clip = pan_clip(img, tmp / "overlap.mp4", (320, 240), args.frames, (2, 2))
    model = load(args.models.split(",")[0])
    upscale_video(model, pan_clip(img, tmp / "warm.mp4", (64, 48), 1, (0, 0)), tmp / "w.mp4", overwrite=True)
    times = {"sequential": [], "pipelined": []}
    for _ in range(args.rounds):
        for mode in times:
            start = time.perf_counter()
            upscale_video(model, clip, tmp / "out.mp4", overwrite=True, pipelined=mode == "pipelined")
            times[mode].append(time.perf_counter() - start)
            print(mode, times[mode][-1], file=sys.stderr, flush=True)
    best = {k: min(v) for k, v in times.items()}
    gain = best["sequential"] / best["pipelined"]
    md = (f"# Overlapping decode, upscale and encode\n\nCommand: `{' '.join(['python -m benchmarks.video', *sys.argv[1:]])}`  \n"
          f"{_machine()}. `{args.models.split(',')[0]}`, 4x, a {args.frames}-frame 320x240 H.264 clip, whole "
          f"`upscale_video` runs, best of {args.rounds} interleaved rounds.\n\n"
          "| stages | seconds | fps |\n|---|---:|---:|\n"
          + "".join(f"| {k} | {v:.2f} | {args.frames / v:.2f} |\n" for k, v in best.items())
          + f"\nGain of the three threads: **{gain:.2f}x**.\n")
    write_report(args.out, "overlap", {"command": sys.argv, "machine": _machine_dict(), "times": times,
                                       "gain": gain}, md)


def run_target(args, tmp: Path) -> None:
    """The issue's target: a 10-second 320x240 clip at 4x with ``fast``, through the CLI, as a user runs it."""
    import subprocess

    n = round(10 * RATE)
    img = photo(PHOTOS[0], (320 + n, 240 + n // 2))
    clip = pan_clip(img, tmp / "ten_seconds.mp4", (320, 240), n, (1, 0))
    cmd = [sys.executable, "-m", "sr_core", "video", str(clip), "-o", str(tmp / "out.mp4"), "--model", "fast",
           "--threads", str(args.threads), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    ok = done.returncode == 0 and len(decode(tmp / "out.mp4")) == n
    md = (f"# A 10-second clip\n\nCommand: `{' '.join(['python -m benchmarks.video', *sys.argv[1:]])}`  \n"
          f"{_machine()}. `sr-core video` (`python -m sr_core video CLIP -o OUT --model fast --threads "
          f"{args.threads}`) on a 320x240 H.264 clip of {n} frames at 30000/1001 fps (10.0 s), 4x to 1280x960.\n\n"
          f"Finished: **{'yes' if ok else 'no'}** in {seconds:.0f} s, process start-up included: "
          f"**{n / seconds:.2f} frames/s**. The command said: `{done.stdout.strip() or done.stderr.strip()}`\n")
    write_report(args.out, "target", {"command": sys.argv, "machine": _machine_dict(), "frames": n,
                                      "seconds": seconds, "fps": n / seconds, "finished": ok,
                                      "stdout": done.stdout, "stderr": done.stderr[-2000:]}, md)


def _machine_dict() -> dict:
    info = {k: v for k, v in cpu_info().items() if k != "flags"}
    return {**info, "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


def _machine() -> str:
    m = _machine_dict()
    return f"{m['model_name']}, {m['cores']} cores ({m['hypervisor'] or 'bare metal'}), {m['torch_threads']} torch threads"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["flicker", "speed", "overlap", "target"])
    parser.add_argument("--models", default=None)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--pan", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/video"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    defaults = {"flicker": (",".join(FLICKER_MODELS), 10), "speed": ("fast,srresnet", 6),
                "overlap": ("fast", 16), "target": ("fast", None)}[args.part]
    args.models = args.models or defaults[0]
    args.frames = args.frames or defaults[1]
    with tempfile.TemporaryDirectory(prefix="sr-video-bench-") as tmp:
        {"flicker": run_flicker, "speed": run_speed, "overlap": run_overlap, "target": run_target}[args.part](
            args, Path(tmp))


if __name__ == "__main__":
    main()
