"""Pictures the README shows, each made by a command (and the sha256 of every weights file it used).

    python -m train.figures before-after     # docs/before_after.png: bicubic | fast | original, a BSD100 crop
    python -m train.figures texture          # reports/texture/baby.png: srresnet | srgan | HR, Set5 baby (skin)
    python -m train.figures real-photo       # docs/real_photo.png: bicubic | real (default detail), a real JPEG

before-after and texture: the LR image is the HR crop downscaled 4x with Pillow's bicubic (the benchmark
protocol); every panel is shown at the HR size, the LR enlarged by the named method. real-photo: no ground
truth and no downscaling; a web JPEG of the cat/dog test split (``cats_dogs/val``, never trained on) is the
input as it is, at its native size, noise and 8x8 blocks included; the whole photo is upscaled 4x by bicubic
and by ``real`` at the default detail (``sr_core.detail``), and the same crop of both is shown at 100 %. A JSON
beside each PNG records the images, the crop, the models and their weights' sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from PIL import Image, ImageDraw

from sr_core import config, load_model, upscale
from sr_core.data import degrade, load_rgb, mod_crop


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _panel_row(hr: Image.Image, names: list[str], zoom: int = 1) -> tuple[Image.Image, dict]:
    lr = degrade(hr, 4)
    panels, used = [], {}
    for name in names:
        if name == "HR":
            img = hr
        else:
            img = upscale(load_model(name), lr)
            weights = config.weights_dir() / name / "model.safetensors"
            used[name] = sha256(weights) if weights.is_file() else None
        panels.append((name, img.resize((hr.width * zoom, hr.height * zoom), Image.NEAREST)))
    w, h = panels[0][1].size
    label_h = 18
    sheet = Image.new("RGB", (w * len(panels) + 4 * (len(panels) - 1), h + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(panels):
        x = i * (w + 4)
        sheet.paste(img, (x, label_h))
        draw.text((x + 4, 3), "original" if name == "HR" else name, fill="black")
    return sheet, used


def _crop(path: Path, box: tuple[int, int, int, int]) -> Image.Image:
    return mod_crop(load_rgb(path).crop(box), 4)


REAL_PHOTO = "cats_dogs/val/cat/cat.4014.jpg"  # the blockiest of reports/real_photos' 30 (bicubic's grid ratio)
REAL_PHOTO_BOX = (156, 44, 300, 156)  # input pixels: left, top, right, bottom


def real_photo(photo: Path, box: tuple[int, int, int, int], out: Path) -> dict:
    """bicubic | ``real`` at the default detail, both the 4x of the whole photo, cropped to ``box`` x 4."""
    from sr_core.detail import DEFAULT_DETAIL, DETAIL_PAIRS
    from sr_core.io import open_image

    img = open_image(photo).convert("RGB")
    left, top, right, bottom = box
    if not (0 <= left < right <= img.width and 0 <= top < bottom <= img.height):
        raise SystemExit(f"crop box {box} does not fit the photo ({img.width}x{img.height})")
    label = f"real, detail {DEFAULT_DETAIL:g} (the default)"
    panels = [("bicubic", load_model("bicubic")), (label, load_model("real", detail=DEFAULT_DETAIL))]
    big = (left * 4, top * 4, right * 4, bottom * 4)
    crops = [(name, upscale(model, img).crop(big)) for name, model in panels]
    w, h = crops[0][1].size
    label_h = 18
    sheet = Image.new("RGB", (w * len(crops) + 4 * (len(crops) - 1), h + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, crop) in enumerate(crops):
        x = i * (w + 4)
        sheet.paste(crop, (x, label_h))
        draw.text((x + 4, 3), name, fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    used = {}
    for name in ("real", DETAIL_PAIRS["real"]):
        weights = config.weights_dir() / name / "model.safetensors"
        used[name] = sha256(weights) if weights.is_file() else None
    return {"panels": ["bicubic", "real"], "detail": DEFAULT_DETAIL, "photo_size": list(img.size),
            "weights_sha256": used}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=("before-after", "texture", "real-photo"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--model", default="fast", help="before-after: the model shown")
    parser.add_argument("--photo", default=REAL_PHOTO,
                        help="real-photo: the JPEG, relative to the data folder (or absolute)")
    parser.add_argument("--box", default=",".join(map(str, REAL_PHOTO_BOX)),
                        help="real-photo: the crop in input pixels, left,top,right,bottom")
    args = parser.parse_args(argv)
    if args.figure == "real-photo":
        photo = config.data_root() / args.photo
        box = tuple(int(v) for v in args.box.split(","))
        out = args.out or Path("docs/real_photo.png")
        record = {"command": "python -m train.figures real-photo"
                             + (f" --photo {args.photo}" if args.photo != REAL_PHOTO else "")
                             + (f" --box {args.box}" if box != REAL_PHOTO_BOX else ""),
                  "image": args.photo, "crop_box": box, "scale": 4,
                  "lr": "the JPEG itself, at its native size (no downscaling, no ground truth)", "zoom": 1}
        record.update(real_photo(photo, box, out))
        out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
        return
    if args.figure == "before-after":
        image, box = config.benchmark_dir("BSD100") / "img_004.png", (180, 40, 380, 200)
        names, zoom, out = ["bicubic", args.model, "HR"], 2, args.out or Path("docs/before_after.png")
    else:
        image, box = config.benchmark_dir("Set5") / "baby.png", (160, 180, 320, 340)
        names, zoom, out = ["srresnet", "srgan", "HR"], 2, args.out or Path("reports/texture/baby.png")
    hr = _crop(image, box)
    sheet, used = _panel_row(hr, names, zoom)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    record = {"command": f"python -m train.figures {args.figure}" + (f" --model {args.model}"
                                                                    if args.figure == "before-after" else ""),
              "image": str(image.relative_to(config.data_root())), "crop_box": box, "scale": 4,
              "lr": "Pillow bicubic 4x downscale of the crop", "panels": names, "zoom": zoom,
              "weights_sha256": used}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
