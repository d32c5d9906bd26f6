"""Every model on realistically degraded BSD100: Y-PSNR / SSIM, NIQE and speed, in one run.

    python -m benchmarks.real                          # all of BSD100, every model with weights, the peer
    python -m benchmarks.real --limit 10 --threads 1   # a smoke run in about a minute
    python -m benchmarks.real --models bicubic,srresnet --extra real=runs/real/weights
    python -m benchmarks.real --grid default --out reports/real      # a grid of real low-quality photos (train split)
    python -m benchmarks.real --grid photo1.jpg,photo2.jpg --grid-models bicubic,srresnet,srgan,peer:realesr-general-x4v3

Test sets: each BSD100 HR image (``sr_core.config.benchmark_dir("BSD100")``,
sorted, cropped to a multiple of 4) degraded by ``sr_core.degradations`` (``sr_core.data.load_eval_set``) at
two strengths, ``real-mild`` and ``real`` (the Real-ESRGAN defaults), image
``i`` with ``seed`` 14 and index ``i``: fixed sets, made on the fly (nothing
committed), identical in every run and on every machine with the same
OpenCV JPEG codec.

Metrics: Y-PSNR / SSIM against the HR image (``sr_core.metrics``, BT.601
luma of 8-bit images, 4-pixel border removed, ``sr_core.metrics.evaluate``), and
NIQE (``benchmarks.niqe``: no reference, lower is more natural; whole output
image), with the HR images' own NIQE as the reference row. Speed: output
megapixels per second of the forward pass (``upscale_tensor``, whole image,
no tiling), in the same run for every model.

Models: ``bicubic``, every ``sr_core.available_models()`` name with weights (``--models`` also takes
``real@D``: ``real`` at detail ``D``, ``sr_core.detail``)
(``has_weights``) apart from ``lanczos``/``nearest``, each ``--extra
name=path`` checkpoint folder, and the real-world peer
``peer:realesr-general-x4v3`` (``benchmarks.peers``; measured only, not this
project's model). Writes ``real.json`` (means and every image's values) and
``real.md`` to ``--out``. ``make_grid`` puts low-quality photos through
several models side by side (``--grid``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sr_core import config, count_parameters, load_model  # noqa: E402
from sr_core.data import load_eval_set  # noqa: E402
from sr_core.metrics import evaluate  # noqa: E402

from benchmarks.hardware import machine_info  # noqa: E402
from benchmarks.niqe import niqe  # noqa: E402
from benchmarks.quality import collect_models  # noqa: E402

SCALE = 4
SEED = 14
STRENGTHS = ("real-mild", "real")
PEER = "realesr-general-x4v3"
SKIP = ("lanczos", "nearest")
# --grid default: real low-quality photographs (Asirra shelter photos of the cat/dog *training* split, JPEG at
# about quality 70, often dim and noisy), relative to the data root; each cell is their centre crop
GRID_PHOTOS = ("cats_dogs/train/cat/cat.212.jpg", "cats_dogs/train/cat/cat.471.jpg",
               "cats_dogs/train/cat/cat.767.jpg", "cats_dogs/train/cat/cat.101.jpg")
GRID_MODELS = ("bicubic", "srresnet", "srgan", "real-psnr", "real@0.5", "real", f"peer:{PEER}")


def real_table_md(report: dict) -> str:
    """``real.md``: PSNR / SSIM / NIQE and speed of every model at each strength."""
    strengths = report["strengths"]
    head = " | ".join(f"{s} PSNR / SSIM / NIQE" for s in strengths)
    test_set = report.get("set", "BSD100")
    lines = [f"# Realistic degradation benchmark ({test_set}, 4x)", "",
             f"LR: {test_set} HR (cropped to a multiple of 4) through `sr_core.degradations` at "
             f"{' and '.join(f'`{s}`' for s in strengths)}, image i with seed {report['seed']} and index i; "
             f"{report['images']} images. Y-PSNR (dB) / SSIM on the BT.601 luma of 8-bit images, {SCALE}-px border "
             "removed; NIQE (lower is more natural) on the whole output, BasicSR's port of the MATLAB release "
             "with its pristine model (`benchmarks/niqe.py`). Mpx/s: output megapixels per second of the "
             "forward pass, whole image, this run. Produced by "
             f"`python -m benchmarks.real {' '.join(report['argv'])}` ({report['machine']['date'][:10]}).", "",
             f"| model | parameters | {head} | Mpx/s |", "|---|---:|" + "---|" * len(strengths) + "---:|"]
    ref = report.get("hr_niqe")
    if ref is not None:
        lines.append("| HR (reference) | | " + " | ".join(f"- / - / {ref:.3f}" for _ in strengths) + " | |")
    for label, r in report["results"].items():
        cells = [f"{r['sets'][s]['psnr']:.2f} / {r['sets'][s]['ssim']:.4f} / {r['sets'][s]['niqe']:.3f}"
                 if s in r["sets"] else "" for s in strengths]
        speed = [r["sets"][s]["mpx_per_s"] for s in strengths if s in r["sets"]]
        lines.append(f"| {label} | {r['parameters']:,} | " + " | ".join(cells) +
                     f" | {sum(speed) / len(speed):.3f} |")
    m = report["machine"]
    lines += ["", "`peer:*` is another project's released weights (`../shared/peers`), measured here with the same "
              "images and metrics; it is not this project's model. The machine may be shared with other jobs: "
              "treat Mpx/s as relative within this table.", "",
              f"Machine: {m['cpu']}, {m['usable_cores']} usable cores, torch threads {m['torch_threads']}, "
              f"torch {m['torch']}, load average at start {m['load_average_at_start']}, git {m['git_commit']}."]
    return "\n".join(lines) + "\n"


def _label(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 16), "white")
    out.paste(img, (0, 16))
    ImageDraw.Draw(out).text((3, 2), text, fill="black")
    return out


@torch.no_grad()
def make_grid(photos: list, models: list[str], out_path: str | Path, crop: int = 64, extras: list[str] = ()
              ) -> Path:
    """One row per low-quality photo (a path or a PIL image, used as the LR input), one column per model.

    Each cell is the 4x output of a ``crop`` x ``crop`` LR crop from the photo's centre (``crop * 4`` px),
    the first column the nearest-neighbour enlargement of the input itself. Writes a PNG and returns its path.
    """
    from sr_core.inference import upscale_tensor
    from sr_core.io import open_image, to_image, to_tensor

    entries = collect_models(models, list(extras))
    loaded = [(label, load()) for label, load in entries]
    rows = []
    for photo in photos:
        img = photo.convert("RGB") if isinstance(photo, Image.Image) else open_image(photo).convert("RGB")
        c = min(crop, img.width, img.height)
        left, top = (img.width - c) // 2, (img.height - c) // 2
        lr = img.crop((left, top, left + c, top + c))
        cells = [_label(lr.resize((c * SCALE, c * SCALE), Image.NEAREST), "input (nearest)")]
        for label, model in loaded:
            cells.append(_label(to_image(upscale_tensor(model, to_tensor(lr), tile=0)), label))
        rows.append(cells)
    w, h = rows[0][0].size
    grid = Image.new("RGB", (w * len(rows[0]), h * len(rows)), "white")
    for r, cells in enumerate(rows):
        for k, cell in enumerate(cells):
            grid.paste(cell, (k * w, r * h))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_path)
    return out_path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of the set")
    parser.add_argument("--set", default="BSD100", help="benchmark set (BSD100, the test set; Set5 or Set14 "
                                                        "may guide training)")
    parser.add_argument("--models", default=None, help="comma-separated names (peer:NAME for peers) instead of all")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="also evaluate the checkpoint folder PATH under the label NAME (repeatable)")
    parser.add_argument("--no-peer", action="store_true", help=f"skip peer:{PEER}")
    parser.add_argument("--strengths", default=",".join(STRENGTHS), help="degradation presets")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="reports/real", help="output folder (real.md, real.json)")
    parser.add_argument("--grid", default=None, help="comma-separated low-quality photos, or 'default' (four "
                                                         "cat/dog training photos): write grid.png instead")
    parser.add_argument("--grid-models", default=",".join(GRID_MODELS))
    parser.add_argument("--crop", type=int, default=64, help="LR crop side of each grid cell")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        import cv2

        cv2.setNumThreads(args.threads)
    out = Path(args.out)
    if args.grid:
        from sr_core.config import data_root

        photos = [data_root() / p for p in GRID_PHOTOS] if args.grid == "default" else args.grid.split(",")
        path = make_grid(photos, args.grid_models.split(","), out / "grid.png", args.crop, args.extra)
        print(f"wrote {path}")
        return {"grid": str(path)}

    strengths = [s for s in args.strengths.split(",") if s]
    models = [m for m in args.models.split(",") if m] if args.models else None
    entries = collect_models(models, args.extra, [] if args.no_peer else [PEER])
    if not entries:
        raise SystemExit("nothing to evaluate")
    sets = {s: load_eval_set(config.benchmark_dir(args.set), SCALE, s, seed=SEED, limit=args.limit)
            for s in strengths}
    first = next(iter(sets.values()))
    report = {"argv": list(sys.argv[1:] if argv is None else argv), "set": args.set, "strengths": strengths,
              "seed": SEED,
              "scale": SCALE, "images": len(first), "machine": machine_info(),
              "hr_niqe": sum(niqe(hr) for _, _, hr in first) / len(first), "results": {}}
    for label, load in entries:
        model = load()
        # a detail blend runs merged (FastSR.reparameterize); it is counted as trained, like the models it blends
        counted = load_model(label.partition("@")[0]) if "@" in label else model
        row = {"parameters": count_parameters(counted), "sets": {}}
        for s, pairs in sets.items():
            row["sets"][s] = evaluate(model, pairs, SCALE, rounded=True, extra={"niqe": niqe})
            r = row["sets"][s]
            print(f"{label:28s} {s:10s} {r['psnr']:.2f} dB  {r['ssim']:.4f}  NIQE {r['niqe']:.3f}  "
                  f"{r['mpx_per_s']:.3f} Mpx/s", file=sys.stderr)
        report["results"][label] = row
        del model
    from benchmarks.report import write_report

    write_report(out, "real", report, real_table_md(report), indent=1)
    return report


if __name__ == "__main__":
    main()
