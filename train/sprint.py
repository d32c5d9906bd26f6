"""One command for a short lease on a GPU machine: pack the photographs, train for N minutes, bring back the weights.

    python -m train.sprint --pack-only                       # here, before the lease: pack the photographs
    python -m train.sprint --minutes 8 --out DIR             # on the leased machine (CUDA, bf16, large batches)
    python -m train.sprint --minutes 1 --out DIR --tiny      # the CPU smoke test the test suite runs
    python -m train.sprint --no-pack --trainer real --recipe gpu-psnr --minutes 3 --out DIR   # real-psnr
    bash train/lease.sh OUT                                  # what a 15-minute lease runs (fast + real)

Step 1 (``pack``) writes the training photographs (``sr_train`` and any ``--extra`` folders) as high-quality
JPEG (quality 95, no chroma subsampling) into ``sprint_data/`` inside the checkout, which git ignores, until
``--budget-mib`` (25 MiB by default) is reached, so that the tracked files plus that folder travel to a leased
machine in one 64 MiB copy. The order is a seeded shuffle, so the same images are packed every time;
``sprint_data/MANIFEST.json`` records which. The validation set (Set5's HR images, as PNG) goes to
``sprint_val/Set5`` beside it (also ignored by git), since the leased machine has no ``../shared``.

Step 2 trains a recipe of ``train.fast`` or ``train.real`` (``--trainer``; ``gpu`` by default, ``cpu`` or the
tiny test configuration) on that folder for the given minutes: a short calibration run measures the seconds per
iteration (from its logged ``it_per_s``, start-up excluded), the cosine schedule is sized to the time left, and
``--time_limit`` stops it in any case. ``--calibrate 0`` skips the calibration (constant-rate recipes such as the
GAN stage): the recipe's ``max_iters`` with ``--time_limit`` set to the minutes. Step 3 copies the exported (EMA) weights,
``metrics.jsonl``, ``config.json``, ``curves.png`` and a short ``CARD.md`` into ``--out``. Measure the weights
back here with ``python -m benchmarks.quality --extra fast_sprint=DIR/weights`` before shipping them.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import time
from pathlib import Path

from PIL import Image

from sr_core import config as sr_config
from sr_core.io import list_images

from .records import read_metrics

PACK_DIR = Path("sprint_data")
VAL_DIR = Path("sprint_val")
TRAINERS = ("fast", "real")


def pack(sources: list[Path], dest: Path = PACK_DIR, budget_mib: float = 25.0, seed: int = 0,
         min_side: int = 192, quality: int = 95) -> dict:
    """JPEG copies (``quality``, 4:4:4) of the images under ``sources`` into ``dest`` until ``budget_mib`` is used; returns the
    manifest (also written to ``dest/MANIFEST.json``). Images smaller than ``min_side`` are left out."""
    paths = sorted(p for src in sources for p in list_images(src))
    if not paths:
        raise SystemExit(f"no images found in {', '.join(map(str, sources))}")
    random.Random(seed).shuffle(paths)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    budget, used, files, skipped = int(budget_mib * 2 ** 20), 0, [], 0
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            img = im.convert("RGB")
        if min(img.size) < min_side:
            skipped += 1
            continue
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, subsampling=0)
        if used + buf.tell() > budget:
            break
        name = f"{i:04d}_{path.stem}.jpg"
        (dest / name).write_bytes(buf.getvalue())
        used += buf.tell()
        files.append({"file": name, "source": path.name, "size": list(img.size)})
    manifest = {"budget_mib": budget_mib, "bytes": used, "images": len(files), "candidates": len(paths),
                "too_small": skipped, "encoding": f"JPEG quality {quality}, 4:4:4", "seed": seed, "files": files}
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def pack_val(src: Path, dest: Path = VAL_DIR / "Set5") -> int:
    """PNG copies of the validation HR images ``src`` in ``dest``; returns how many."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    paths = list_images(src)
    for path in paths:
        with Image.open(path) as im:
            im.convert("RGB").save(dest / f"{path.stem}.png")
    return len(paths)


def _trainer(name: str):
    if name == "real":
        from . import real
        return lambda argv: real.main(real.RealConfig(), real.RECIPES, argv)
    from . import fast
    return lambda argv: fast.main(fast.FastConfig(), fast.RECIPES, argv)


def _calibrated_rate(run: Path, fallback: float) -> float:
    """Seconds per iteration from the last logged ``it_per_s`` of a calibration run (start-up excluded)."""
    rates = [r["it_per_s"] for r in read_metrics(run / "metrics.jsonl") if r.get("kind") == "train"
             and r.get("it_per_s")]
    return 1.0 / rates[-1] if rates else fallback


def _train(args, overrides: list[str]) -> dict:
    call = _trainer(args.trainer)
    base = [f"--recipe={args.recipe}", f"--train_dirs={PACK_DIR.resolve()}", f"--name={args.name}",
            "--no-progress", "--overwrite"]
    if (VAL_DIR / "Set5").is_dir() and not args.tiny:
        base.append(f"--val_set={(VAL_DIR / 'Set5').resolve()}")
    if args.tiny:
        base.append("--tiny")
    budget = args.minutes * 60.0
    if args.calibrate <= 0:
        return call([*base, f"--time_limit={max(budget - 5, 1):.0f}", *overrides])
    # calibration: a few logged iterations measure the speed of this machine
    t0 = time.time()
    every = max(1, args.calibrate // 3)
    call([*base, f"--max_iters={args.calibrate}", f"--log_every={every}", "--val_every=1000000", "--no-plot",
          *overrides])
    per_it = _calibrated_rate(Path("runs") / args.name, (time.time() - t0) / args.calibrate)
    left = budget - (time.time() - t0)
    iters = max(args.calibrate + 1, int(left * 0.85 / per_it))  # headroom for start-up, validation and saving
    print(f"sprint: {per_it:.4f} s/iteration in calibration; training {iters} iterations in {left:.0f} s",
          flush=True)
    return call([*base, f"--max_iters={iters}", f"--time_limit={max(left - 5, 1):.0f}", *overrides])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=8.0, help="training time (calibration included)")
    parser.add_argument("--out", type=Path, help="folder for weights/, metrics.jsonl, config.json and CARD.md")
    parser.add_argument("--trainer", choices=TRAINERS, default="fast", help="train.fast or train.real")
    parser.add_argument("--recipe", default="gpu", help="a recipe of the trainer (fast: gpu, cpu; real: gpu-psnr, "
                                                        "gpu-gan, psnr, gan)")
    parser.add_argument("--name", default="fast_sprint", help="run folder runs/<name>")
    parser.add_argument("--extra", action="append", default=[], help="more photo folders to pack")
    parser.add_argument("--budget-mib", type=float, default=25.0)
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of the packed photographs")
    parser.add_argument("--calibrate", type=int, default=60,
                        help="iterations of the speed calibration (0: none, run to --minutes at the recipe's max_iters)")
    parser.add_argument("--pack-only", action="store_true", help="pack the photographs and stop")
    parser.add_argument("--no-pack", action="store_true", help="use sprint_data/ as it is")
    parser.add_argument("--tiny", action="store_true", help="the seconds-long test configuration")
    args, overrides = parser.parse_known_args(argv)
    if not args.pack_only and args.out is None:
        parser.error("--out is required (unless --pack-only)")
    if not args.no_pack or not (PACK_DIR / "MANIFEST.json").is_file():
        sources = [sr_config.data_root() / "sr_train", *map(Path, args.extra)]
        if args.tiny:
            sources = [sr_config.data_root() / "sr_train" / "T91"]
        m = pack(sources, budget_mib=0.5 if args.tiny else args.budget_mib,
                 quality=args.quality)
        print(f"packed {m['images']} of {m['candidates']} images, {m['bytes'] / 2 ** 20:.1f} MiB, into {PACK_DIR}/",
              flush=True)
        n = pack_val(sr_config.data_root() / "sr_benchmark" / "Set5" / "HR")
        print(f"packed {n} validation images into {VAL_DIR}/Set5", flush=True)
    if args.pack_only:
        return
    last = _train(args, overrides)
    run = Path("runs") / args.name
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run / "weights", args.out / "weights", dirs_exist_ok=True)
    for name in ("metrics.jsonl", "config.json", "curves.png"):
        if (run / name).is_file():
            shutil.copy2(run / name, args.out / name)
    rows = read_metrics(run / "metrics.jsonl")
    train_rows = [r for r in rows if r.get("kind") == "train"]
    cfg = json.loads((run / "weights" / "config.json").read_text())
    card = [f"# sprint: {args.name}", "",
            f"- recipe `{args.recipe}` of train.{args.trainer}, {cfg.get('iterations')} iterations in "
            f"{max((r.get('time', 0) for r in train_rows), default=0):.0f} s of training",
            f"- command: `python -m train.sprint {' '.join(sys.argv[1:] if argv is None else argv)}`",
            f"- last validation (Set5, LR by `{cfg.get('degradation')}`, EMA weights): "
            f"{last.get('psnr', float('nan')):.3f} dB / "
            f"{last.get('ssim', float('nan')):.4f}",
            f"- data: `{PACK_DIR}/` ({json.loads((PACK_DIR / 'MANIFEST.json').read_text())['images']} images)", ""]
    (args.out / "CARD.md").write_text("\n".join(card))
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
