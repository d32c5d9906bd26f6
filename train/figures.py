"""Pictures the README shows, each made by a command (and the sha256 of every weights file it used).

    python -m train.figures before-after     # docs/before_after.png: bicubic | fast | original, a BSD100 crop
    python -m train.figures texture          # reports/texture/baby.png: srresnet | srgan | HR, Set5 baby (skin)

The LR image is the HR crop downscaled 4x with Pillow's bicubic (the benchmark protocol); every panel is
shown at the HR size, the LR enlarged by the named method. A JSON beside each PNG records the images, the
crop, the models and their weights' sha256.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=("before-after", "texture"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--model", default="fast", help="before-after: the model shown")
    args = parser.parse_args(argv)
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
