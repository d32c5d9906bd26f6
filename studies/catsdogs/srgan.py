"""SRGAN for the cat-vs-dog study (issue 4): the shipped ``srgan`` fine-tuned on the study's HR images.

    python -m studies.catsdogs.srgan                     # fine-tune -> runs/srgan_catsdogs
    python -m studies.catsdogs.srgan --resume            # continue after a kill
    python -m studies.catsdogs.srgan --tiny --data_root=... --hr_dir=/tmp/hr   # seconds-long smoke run
    python -m studies.catsdogs.srgan compare             # srgan vs the fine-tune on the validation split
    python -m train.ship runs/srgan_catsdogs srgan-catsdogs   # -> weights/srgan-catsdogs

Data: the *fitting* part of ``cats_dogs/train`` (70 %, ``studies.catsdogs.data.split_files(split="train")``)
as HR 128 x 128 images (the study's HR: the photo resized directly), written once as PNGs to
``runs/catsdogs_hr128/train/``; training crops 96 px from them with LR made on the fly by Pillow
bicubic, as for every model here. Validation while training: 48 images of the study's validation
split (``runs/catsdogs_hr128/val/``). The test set (``cats_dogs/val``) is never read.

Recipe: ``train.srgan``'s cpu recipe (EfficientNet-Lite0 content loss, 1e-3 adversarial, 0.1 L1, batch 8,
lr 1e-4 dropped 10x at half), starting from the shipped ``srgan`` generator and a new discriminator.
Any ``--key=value`` of ``train.srgan`` overrides it.

``compare`` measures, on all 600 validation-split images (model selection data, never the test set),
Y-PSNR / SSIM of the 32 -> 128 upscale and classifier A's accuracy on the upscales, for bicubic,
``srgan`` and the fine-tune (``--candidate``, default ``runs/srgan_catsdogs/weights``), and writes
``<out>/compare.json`` and ``compare.md``: whether the domain fine-tune beats the general model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr_core.io import atomic_write

from train.config import TINY
from train.loop import main as train_main
from train.srgan import RECIPES, SRGANConfig

from .data import load_split, probabilities, to_float, upscaled

HR_DIR = Path("runs") / "catsdogs_hr128"
VAL_IMAGES = 48


def export_hr(split: str, out: Path, limit: int = 0, data_root: str | None = None) -> Path:
    """Write the split's HR 128 x 128 images as PNGs (once; the folder is reused when complete)."""
    images = load_split(split, data_root)
    n = min(limit, len(images)) if limit else len(images)
    out.mkdir(parents=True, exist_ok=True)
    if len(list(out.glob("*.png"))) == n:
        return out
    # every k-th image, so a validation subset holds both classes
    idx = np.linspace(0, len(images) - 1, n).round().astype(int) if limit else range(n)
    for i in idx:
        name = f"{Path(images.paths[i]).parent.name}_{Path(images.paths[i]).stem}.png"
        arr = images.hr[i].permute(1, 2, 0).numpy()
        atomic_write(out / name, lambda tmp, a=arr: Image.fromarray(a).save(tmp, format="PNG"))
    return out


def train(argv: list[str]) -> dict:
    """Export the HR images (``--hr_dir``, default runs/catsdogs_hr128), then run train.srgan's loop on them."""
    opts = dict(a[2:].split("=", 1) for a in argv if a.startswith(("--data_root=", "--hr_dir=")))
    argv = [a for a in argv if not a.startswith("--hr_dir=")]
    hr_dir = Path(opts.get("hr_dir", HR_DIR))
    train_dir = export_hr("train", hr_dir / "train", data_root=opts.get("data_root")).resolve()
    val_dir = export_hr("val", hr_dir / "val", limit=VAL_IMAGES, data_root=opts.get("data_root")).resolve()
    recipe = dict(RECIPES["cpu"], name="srgan_catsdogs", model="srgan-catsdogs", init_from="srgan",
                  train_dirs=str(train_dir), val_set=str(val_dir), max_iters=400, val_every=50, ckpt_every=25)
    if "--tiny" in argv:  # --tiny's own sizes win (a tiny generator cannot start from the shipped srgan)
        recipe = {k: v for k, v in recipe.items() if k not in TINY or k == "val_set"}
    defaults = [f"--{k}={v}" for k, v in recipe.items() if not any(a.startswith(f"--{k}=") for a in argv)]
    return train_main(SRGANConfig(), {}, defaults + argv)


@torch.inference_mode()
def compare(args) -> dict:
    from sr_core.classifier import load_classifier
    from sr_core.metrics import psnr, ssim
    from benchmarks.provenance import weights_record

    val = load_split("val", args.data_root)
    hr = to_float(val.hr)
    clf = load_classifier(args.classifier)
    results = {}
    for name in ["bicubic", "srgan", args.candidate]:
        sr = upscaled(val, name, cache=False)
        srf = to_float(sr)
        acc = (probabilities(clf, sr).argmax(1) == val.labels).float().mean().item()
        results[name] = {"psnr": psnr(srf, hr, 4).mean().item(), "ssim": ssim(srf, hr, 4).mean().item(),
                         "accuracy_classifier_a": acc, **weights_record(name)}  # the file used, its sha256
        print(f"{name}: Y-PSNR {results[name]['psnr']:.3f} dB, SSIM {results[name]['ssim']:.4f}, "
              f"classifier A accuracy {acc:.4f}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"data": f"cats_dogs/train validation split ({len(val)} images, seed 0), HR 128, LR 32 (Pillow bicubic)",
              "classifier": args.classifier, "classifier_weights": weights_record(args.classifier),
              "results": results}
    atomic_write(out / "compare.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))
    lines = ["| model | Y-PSNR (dB) | SSIM | classifier A accuracy |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {v['psnr']:.3f} | {v['ssim']:.4f} | {v['accuracy_classifier_a']:.4f} |" for k, v in results.items()]
    used = {k: v["weights_sha256"] for k, v in results.items() if v.get("weights_sha256")}
    used[args.classifier] = report["classifier_weights"].get("weights_sha256", "n/a")
    lines += ["", "Weights used (sha256, first 12 hex digits): "
              + "; ".join(f"{k} `{str(h)[:12]}`" for k, h in used.items()) + "."]
    text = f"Validation split of cats_dogs/train ({len(val)} images), 32 -> 128.\n\n" + "\n".join(lines) + "\n"
    atomic_write(out / "compare.md", lambda tmp: Path(tmp).write_text(text))
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["compare"]:
        ap = argparse.ArgumentParser(prog="python -m studies.catsdogs.srgan compare")
        ap.add_argument("--candidate", default="runs/srgan_catsdogs/weights")
        ap.add_argument("--classifier", default="classifier-a")
        ap.add_argument("--data_root", default=None)
        ap.add_argument("--out", default="reports/srgan_catsdogs")
        compare(ap.parse_args(sys.argv[2:]))
    else:
        train(sys.argv[1:])
