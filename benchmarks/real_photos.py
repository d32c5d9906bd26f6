"""Real low-quality photos, no ground truth: NIQE, the JPEG-grid ratio and speed per model, and a look at them.

    python -m benchmarks.real_photos --split val --out reports/real_photos          # the report (30 val JPEGs)
    python -m benchmarks.real_photos --split train --models real@0.3,real@0.5 \\
        --extra new=runs/x/weights --blend new@0.5=runs/p/weights,runs/g/weights      # choosing, on train photos

The photos are the cat/dog set's web JPEGs at their native size (``cats_dogs/<split>/{cat,dog}``, the first
``--per-class`` of each class in file-number order with at least 150 px on the short side), used as the LR
input as they are: noise, blur and the 8x8 JPEG blocks included. No SR model here trains on them; choose
(checkpoints, the detail default) on ``--split train`` and report on ``--split val``.

Per model:

* NIQE of the 4x output (``benchmarks.niqe``, BasicSR's port with the official pristine model; lower is more
  natural; compare models within one run);
* the JPEG-grid ratio (:func:`grid_ratio`): the mean luma step across the input's 8x8 block edges, which
  fall on every 32nd output row and column, over the mean step everywhere else. 1.0: no visible grid;
  bicubic keeps the input's blocks (about 1.5 on these photos);
* the mesh level (:func:`mesh_level`): how strong a pattern the output repeats on every input pixel (the
  faint 4-px mesh of a GAN on smooth areas, which NIQE scores as texture), in 8-bit levels;
* the grain level (:func:`grain_level`): fine high-pass energy on the output's flattest areas, where a model
  that sharpens the input's noise leaves speckle (not locked to the pixel grid, so the mesh level misses it);
* output Mpx/s of the model alone (``upscale_tensor``, whole image, no tiling) on this machine, in one run.

``grid.png``: the blockiest and the noisiest photos of the set (by bicubic's grid ratio and by the input's
noise estimate, :func:`noise_sigma`) at 100 %, a 64 px input crop at 4x per model side by side.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr_core.metrics import evaluate

from benchmarks.hardware import machine_info
from benchmarks.niqe import niqe
from benchmarks.quality import collect_models, git_folder
from benchmarks.real import make_grid

SCALE = 4
BLOCK = 8
MIN_SIDE = 150
DEFAULT_MODELS = ("bicubic", "srresnet", "fast", "real-psnr", "real@default", "real", "peer:realesr-general-x4v3")
GRID_MODELS = ("bicubic", "real-psnr", "real@default", "real", "peer:realesr-general-x4v3")


def luma(img) -> np.ndarray:
    """BT.601 luma in [0, 255] (float64) of a (1, 3, H, W) tensor in [0, 1], an (H, W, 3) array or a PIL image."""
    if isinstance(img, torch.Tensor):
        arr = img[0].permute(1, 2, 0).double().clamp(0, 1).numpy() * 255.0
    else:
        arr = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img, dtype=np.float64)
    return arr @ np.array([0.299, 0.587, 0.114])


def grid_ratio(img, period: int = BLOCK * SCALE) -> float:
    """Mean absolute luma step across the lines ``k * period`` (columns and rows) over the mean step between all
    other neighbouring pixels. ``period`` 32 finds the 8x8 JPEG blocks of a 4x-upscaled input; 8 those of a JPEG
    itself. 1.0 means the block edges are no stronger than anything else."""
    y = luma(img)
    dx, dy = np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0))
    # dx[:, j - 1] is the step between columns j - 1 and j: an edge when j is a multiple of the period
    on_x = np.zeros(dx.shape[1], bool)
    on_x[period - 1::period] = True
    on_y = np.zeros(dy.shape[0], bool)
    on_y[period - 1::period] = True
    edge = np.concatenate([dx[:, on_x].ravel(), dy[on_y].ravel()])
    other = np.concatenate([dx[:, ~on_x].ravel(), dy[~on_y].ravel()])
    if edge.size == 0 or other.size == 0:
        raise ValueError(f"image too small for a {period}-px grid")
    return float(edge.mean() / max(other.mean(), 1e-12))


def mesh_level(img, period: int = SCALE) -> float:
    """The pattern locked to the input's pixel grid, in 8-bit levels: the standard deviation of the ``period`` x
    ``period`` tile that the output's high-pass luma (minus a Gaussian blur, sigma 2) repeats on average over
    every input pixel. Image content averages out of that tile; the 4-px mesh a 4x GAN draws on smooth areas
    does not. 0 for bicubic; the Real-ESRGAN compact peer about 0.1 on the cat/dog photos."""
    import cv2

    y = luma(img)
    high = y - cv2.GaussianBlur(y, (0, 0), 2.0)
    h, w = (high.shape[0] // period) * period, (high.shape[1] // period) * period
    if h == 0 or w == 0:
        raise ValueError(f"image too small for a {period}-px tile")
    tile = high[:h, :w].reshape(h // period, period, w // period, period).mean(axis=(0, 2))
    return float(tile.std())


def grain_level(img, flat_share: float = 0.1) -> float:
    """Grain on the output's flat areas, in 8-bit levels: the RMS of the high-pass luma (minus a Gaussian blur,
    sigma 1.5 px) over the ``flat_share`` of pixels where the structure that survives a wide blur (sigma 4 px,
    one input pixel at 4x) changes least. There a clean model leaves smooth surfaces; a model that sharpens
    the input's noise leaves the grain that NIQE scores as texture and :func:`mesh_level` does not see,
    because it is not locked to the input's pixels."""
    import cv2

    y = luma(img)
    if min(y.shape) < 16:
        raise ValueError("image too small to find its flat areas")
    base = cv2.GaussianBlur(y, (0, 0), 4.0)
    slope = np.hypot(cv2.Sobel(base, cv2.CV_64F, 1, 0), cv2.Sobel(base, cv2.CV_64F, 0, 1))
    flat = slope <= np.quantile(slope, flat_share)
    high = y - cv2.GaussianBlur(y, (0, 0), 1.5)
    return float(np.sqrt(np.mean(high[flat] ** 2)))


def noise_sigma(img) -> float:
    """Immerkaer's fast noise estimate (1996) on the luma: the standard deviation of Gaussian noise, in 8-bit
    levels, from the response to a Laplacian-difference mask that cancels smooth image structure."""
    y = luma(img)
    h, w = y.shape
    m = (y[:-2, :-2] - 2 * y[:-2, 1:-1] + y[:-2, 2:] - 2 * y[1:-1, :-2] + 4 * y[1:-1, 1:-1] - 2 * y[1:-1, 2:]
         + y[2:, :-2] - 2 * y[2:, 1:-1] + y[2:, 2:])
    return float(np.sqrt(np.pi / 2) * np.abs(m).sum() / (6 * (w - 2) * (h - 2)))


def photo_list(root: Path, split: str, per_class: int) -> list[Path]:
    """The first ``per_class`` cats and dogs of ``split`` in file-number order, at least ``MIN_SIDE`` px."""
    def number(p: Path) -> int:
        found = re.findall(r"\d+", p.stem)
        return int(found[-1]) if found else 0

    out = []
    for cls in ("cat", "dog"):
        folder = root / "cats_dogs" / split / cls
        paths = sorted(folder.glob("*.jpg"), key=number)
        if not paths:
            raise SystemExit(f"no photos in {folder} (set SR_DATA_ROOT to the data folder)")
        kept = [p for p in paths if min(Image.open(p).size) >= MIN_SIDE][:per_class]
        out += kept
    return out


def load_photos(paths: list[Path]) -> list[tuple[str, torch.Tensor]]:
    from sr_core.io import open_image, to_tensor

    return [(f"{p.parent.name}/{p.name}", to_tensor(open_image(p).convert("RGB"))) for p in paths]


def blend_entry(spec: str, outputs: bool = False) -> tuple[str, callable]:
    """``label=SMOOTH,TEXTURED@D`` (or ``label=SMOOTH,TEXTURED`` with the detail in the label, ``x@0.5``): the two
    networks' outputs mixed at detail D (``outputs``, what ``sr_core.detail`` does for ``real``), or their
    weights interpolated (network interpolation, ``sr_core.detail.interpolate``, the control until December 2026)."""
    label, sep, rest = spec.partition("=")
    pair, _, value = rest.partition("@")
    if not value and "@" in label:
        value = label.rpartition("@")[2]
    smooth, _, textured = pair.partition(",")
    if not (sep and smooth and textured and value):
        raise SystemExit(f"--blend and --mix take label=SMOOTH,TEXTURED@DETAIL, got {spec!r}")

    def load():
        from sr_core import load_model
        from sr_core.detail import interpolate
        from sr_core.nets.blend import DetailBlend

        make = DetailBlend if outputs else interpolate
        return make(load_model(git_folder(smooth)), load_model(git_folder(textured)), float(value))

    return label, load


def model_entries(models: list[str], extras: list[str], blends: list[str], mixes: list[str] = ()
                  ) -> list[tuple[str, callable]]:
    from sr_core.detail import DEFAULT_DETAIL

    names = [m.replace("@default", f"@{DEFAULT_DETAIL:g}") for m in models]
    return (collect_models(names, extras) + [blend_entry(b) for b in blends]
            + [blend_entry(m, outputs=True) for m in mixes])


def measure(model, photos: list[tuple[str, torch.Tensor]]) -> dict:
    """NIQE, JPEG-grid ratio, mesh and grain levels of the model's outputs (no ground truth), and its speed."""
    return evaluate(model, [(name, lr, None) for name, lr in photos], SCALE, rounded=True,
                    extra={"niqe": niqe, "grid_ratio": grid_ratio, "mesh": mesh_level, "grain": grain_level})


def photos_table_md(report: dict) -> str:
    """``real_photos.md``: NIQE, JPEG-grid ratio, mesh and grain levels and speed of every model on the photos."""
    lines = [f"# Real low-quality photos: `cats_dogs/{report['split']}` at native size, {report['images']} JPEGs",
             "", "No ground truth. NIQE: lower is more natural. JPEG-grid ratio: luma steps on the input's 8x8 "
             "block edges over steps elsewhere, 1.0 = no visible grid. Mesh: the pattern locked to the input's "
             "pixels (`mesh_level`, 8-bit levels; 0 = none). Grain: fine high-pass RMS on the output's flattest "
             "10 % (`grain_level`, 8-bit levels; lower is cleaner). Mpx/s: 4x output megapixels per second "
             "of the model alone, this run.", "",
             f"Command: `{report['command']}`", "",
             "| model | NIQE | JPEG-grid ratio | mesh | grain | Mpx/s |", "|---|---:|---:|---:|---:|---:|"]
    for label, r in report["models"].items():
        lines.append(f"| `{label}` | {r['niqe']:.3f} | {r['grid_ratio']:.3f} | {r['mesh']:.3f} | "
                     f"{r['grain']:.3f} | {r['mpx_per_s']:.3f} |")
    m = report["machine"]
    lines += ["", f"Input (the JPEGs themselves, 8-px grid ratio): {report['input_grid_ratio']:.3f}; mean noise "
              f"estimate {report['input_noise_sigma']:.2f} (8-bit levels).", "",
              "`peer:*` is another project's released weights (`../shared/peers`), for comparison only.", "",
              f"Machine: {m['cpu']}, {m['usable_cores']} usable cores, torch threads {m['torch_threads']}, "
              f"torch {m['torch']}, load average at start {m['load_average_at_start']}, git {m['git_commit']}."]
    return "\n".join(lines) + "\n"


def grid_photos(paths: list[Path], report: dict, n: int = 2) -> list[Path]:
    """The ``n`` blockiest (bicubic's grid ratio) and the ``n`` noisiest (input noise estimate) photos."""
    names = [f"{p.parent.name}/{p.name}" for p in paths]
    by_name = dict(zip(names, paths))
    bicubic = report["models"].get("bicubic", {}).get("per_image", {})
    blocky = sorted(names, key=lambda k: -bicubic.get(k, {}).get("grid_ratio", 0.0))[:n]
    noisy = [k for k in sorted(names, key=lambda k: -report["noise"][k]) if k not in blocky][:n]
    return [by_name[k] for k in blocky + noisy]


def main(argv: list[str] | None = None) -> dict:
    from sr_core.config import data_root

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("train", "val"), default="val")
    parser.add_argument("--per-class", type=int, default=15)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated names; NAME@D is a detail blend, real@default the app's default")
    parser.add_argument("--extra", action="append", default=[], help="label=weights folder")
    parser.add_argument("--blend", action="append", default=[],
                        help="label=SMOOTH,TEXTURED@DETAIL: the two networks' weights interpolated")
    parser.add_argument("--mix", action="append", default=[],
                        help="label=SMOOTH,TEXTURED@DETAIL: the two networks' outputs mixed (the detail control)")
    parser.add_argument("--grid-models", default=",".join(GRID_MODELS))
    parser.add_argument("--no-grid", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/real_photos"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = machine_info()
    paths = photo_list(data_root(), args.split, args.per_class)
    photos = load_photos(paths)
    report = {"split": args.split, "images": len(photos), "machine": machine,
              "command": "python -m benchmarks.real_photos " + " ".join(sys.argv[1:] if argv is None else argv),
              "photos": [n for n, _ in photos], "noise": {n: round(noise_sigma(x), 3) for n, x in photos},
              "input_grid_ratio": float(np.mean([grid_ratio(x, BLOCK) for _, x in photos])), "models": {}}
    report["input_noise_sigma"] = float(np.mean(list(report["noise"].values())))
    for label, load in model_entries(args.models.split(","), args.extra, args.blend, args.mix):
        report["models"][label] = measure(load(), photos)
        r = report["models"][label]
        print(f"{label}: NIQE {r['niqe']:.3f}, grid ratio {r['grid_ratio']:.3f}, mesh {r['mesh']:.3f}, "
              f"grain {r['grain']:.3f}, {r['mpx_per_s']:.3f} Mpx/s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_photos.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "real_photos.md").write_text(photos_table_md(report))
    if not args.no_grid:
        from sr_core.detail import DEFAULT_DETAIL

        models = [m.replace("@default", f"@{DEFAULT_DETAIL:g}") for m in args.grid_models.split(",")]
        make_grid(grid_photos(paths, report), models, args.out / "grid.png", extras=args.extra)
    return report


if __name__ == "__main__":
    main()
