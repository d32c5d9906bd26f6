"""Models on Set5 made into noisy JPEGs by hand, next to clean Set5: does a model for real photos denoise
without ruining clean input?

    python -m benchmarks.noisy_jpeg --models bicubic,srresnet,real-psnr --extra mix2=runs/real_psnr_mix2/weights

The noisy LR is not ``sr_core.degradations``' (which made the training data): Pillow bicubic 4x down, Gaussian
noise (sigma 8/255 by default, seed 0) and JPEG (quality 60 by default; ``noisy_jpeg``, ``--sigma``,
``--quality``; ``tests/test_real_photos.py`` uses sigma 20 and quality 30). Y-PSNR per image (4-px border, the 8-bit output) and the clean-Set5 mean (LR by Pillow bicubic).
Set5 may guide training; this is where ``weights/real-psnr``'s soup share was chosen.
"""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
import torch
from PIL import Image


def noisy_jpeg(hr: Image.Image, sigma: float = 8.0, quality: int = 60) -> Image.Image:
    """Bicubic 4x down, Gaussian noise ``sigma`` (of 255, seed 0), JPEG at ``quality``."""
    lr = hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)
    rng = np.random.default_rng(0)
    arr = np.asarray(lr).astype(np.float32) + rng.normal(0, sigma, (lr.height, lr.width, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.noisy_jpeg", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="bicubic,srresnet,real-psnr")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH", help="a checkpoint folder")
    parser.add_argument("--sigma", type=float, default=8.0, help="Gaussian noise sigma, of 255")
    parser.add_argument("--quality", type=int, default=60, help="JPEG quality")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="reports/noisy_jpeg")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from sr_core import config, load_model
    from sr_core.data import load_eval_set
    from sr_core.io import list_images, to_tensor
    from sr_core.metrics import evaluate

    from .report import write_report

    entries = [(m, m) for m in args.models.split(",") if m] + [tuple(e.split("=", 1)) for e in args.extra]
    paths = sorted(list_images(config.benchmark_dir("Set5")))
    noisy = []
    for path in paths:
        hr = Image.open(path).convert("RGB")
        hr = hr.crop((0, 0, hr.width // 4 * 4, hr.height // 4 * 4))
        noisy.append((path.stem, to_tensor(noisy_jpeg(hr, args.sigma, args.quality)), to_tensor(hr)))
    clean_pairs = load_eval_set(config.benchmark_dir("Set5"), 4)
    res = {"argv": list(sys.argv[1:] if argv is None else argv), "results": {}}
    for label, src in entries:
        model = load_model(src)
        row = {"clean_set5": evaluate(model, clean_pairs, 4, rounded=True)["psnr"], "noisy": {}}
        # tile=None: upscale_tensor's automatic tile, as this report was made
        row["noisy"] = {name: v["psnr"] for name, v in evaluate(model, noisy, 4, tile=None)["per_image"].items()}
        row["noisy_mean"] = sum(row["noisy"].values()) / len(row["noisy"])
        res["results"][label] = row
        print(label, f"{row['clean_set5']:.3f}", {k: round(v, 3) for k, v in row["noisy"].items()}, file=sys.stderr)
    names = [p.stem for p in paths]
    lines = ["# Set5 as noisy JPEGs, and clean", "",
             f"Command: `python -m benchmarks.noisy_jpeg {' '.join(res['argv'])}`. Noisy LR: Pillow bicubic 4x down, "
             f"Gaussian noise sigma {args.sigma:g}/255 (seed 0), JPEG quality {args.quality}; clean LR: Pillow bicubic. Y-PSNR (dB), 4-px "
             "border.", "", "| model | clean Set5 | noisy mean | " + " | ".join(names) + " |",
             "|---|---:|---:|" + "---:|" * len(names)]
    for label, row in res["results"].items():
        lines.append(f"| {label} | {row['clean_set5']:.3f} | {row['noisy_mean']:.3f} | "
                     + " | ".join(f"{row['noisy'][n]:.3f}" for n in names) + " |")
    write_report(args.out, "noisy_jpeg", res, "\n".join(lines) + "\n")
    return res


if __name__ == "__main__":
    main()
