"""Peak memory of inference, measured in a fresh process (run by ``benchmarks.run``, or by hand).

    python -m benchmarks.memory upscale --model srresnet --size 2048 [--tile N] [--threads 2]
    python -m benchmarks.memory forward --model srresnet --tile 256 [--grad-mode]

``upscale``: ``sr_core.upscale`` of a size x size photo (a real photo from the
shared data, cropped square and resized with Pillow), the way the CLI runs it
(``--via-tensor``: the whole float32 output first, as before row bands);
reports the process's peak resident memory (``VmHWM``; ``ru_maxrss`` too, but
on Linux that includes the resident size of the parent at ``fork``, carried
across ``exec``, so ``benchmarks.run`` reports ``VmHWM``).
``forward``: one tile of tile x tile input pixels through ``upscale_tensor``
(no tiling), reporting the peak *increase* over the resident memory before it
(``/proc/self/clear_refs`` resets the high-water mark), per input pixel, to
check ``sr_core.inference.bytes_per_input_pixel``; ``--grad-mode`` runs it with autograd's grad mode on
(nothing requires grad, so no graph is kept): ``FastSR`` then allocates a tensor for each element-wise step
instead of writing it in place, what the in-place path saves.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from sr_core.config import maxrss_bytes, status_bytes


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def build_model(name: str):
    """Shipped weights when present, else the preset with random weights (speed and memory do not depend on them)."""
    from sr_core.checkpoint import has_weights, load_model
    from sr_core.nets import NET_PRESETS, build_preset
    from benchmarks.peers import PEER_FILES, load_peer

    if name in PEER_FILES:
        return load_peer(name), "peer weights"
    if name in NET_PRESETS and not has_weights(name):
        torch.manual_seed(0)
        return build_preset(name).eval(), "random weights"
    return load_model(name), "shipped weights"


def test_photo(size: int):
    """A size x size RGB photo: the largest picture in the shared data, cropped square, resized (Pillow bicubic)."""
    from PIL import Image

    from sr_core import config
    from sr_core.io import list_images

    root = config.data_root()
    paths = list_images([p for p in (root / "sr_train", root / "sr_benchmark") if p.is_dir()])
    best, best_px = None, -1
    for p in paths:
        try:
            with Image.open(p) as im:
                if im.width * im.height > best_px:
                    best, best_px = p, im.width * im.height
        except OSError:
            continue
    if best is None:  # no shared data: a synthetic picture with edges and texture
        import numpy as np

        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:size, 0:size] / size
        arr = np.stack([np.sin(40 * xx) * 0.5 + 0.5, (xx + yy) / 2, (np.cos(30 * yy * xx) > 0) * 0.8], -1)
        arr = arr + rng.normal(0, 0.03, arr.shape)
        return Image.fromarray((np.clip(arr, 0, 1) * 255).astype("uint8")), "synthetic"
    with Image.open(best) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        return im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC), str(best)


def cmd_upscale(args) -> dict:
    from sr_core.inference import auto_tile_size, upscale
    from sr_core.optimize import tune_malloc

    if args.malloc:
        tune_malloc()
    model, weights = build_model(args.model)
    img, source = test_photo(args.size)
    tile = args.tile if args.tile is not None else auto_tile_size(model)
    before = status_bytes("VmRSS")
    t0 = time.perf_counter()
    if args.via_tensor:  # the former path: the whole float32 output first, then 8 bits
        from sr_core.inference import upscale_tensor
        from sr_core.io import to_image, to_tensor

        out = to_image(upscale_tensor(model, to_tensor(img), tile=tile, batch_size=args.batch_size))
    else:
        out = upscale(model, img, tile=tile, batch_size=args.batch_size)
    seconds = time.perf_counter() - t0
    assert out.size == (args.size * 4, args.size * 4)
    return {"mode": "upscale", "model": args.model, "weights": weights, "size": args.size, "tile": tile,
            "auto_tile": args.tile is None, "batch_size": args.batch_size, "photo": source,
            "rss_before_bytes": before, "ru_maxrss_bytes": maxrss_bytes(), "vmhwm_bytes": status_bytes("VmHWM"),
            "seconds": seconds, "threads": torch.get_num_threads(), "malloc_tuned": bool(args.malloc),
            "path": "to_image(upscale_tensor(...))" if args.via_tensor else "upscale (row bands)"}


def cmd_forward(args) -> dict:
    from sr_core.inference import bytes_per_input_pixel, upscale_tensor
    from sr_core.optimize import tune_malloc

    if args.malloc:
        tune_malloc()
    model, weights = build_model(args.model)
    upscale_tensor(model, torch.rand(1, 3, 16, 16), tile=0, optimize=not args.plain)  # prepare + warm up
    x = torch.rand(1, 3, args.tile, args.tile)
    before = status_bytes("VmRSS")
    exact = reset_peak()
    if args.grad_mode:  # upscale_tensor turns grad mode off: call its runner (what it runs at tile=0) directly
        from sr_core.inference import _Runner

        with torch.inference_mode(), torch.enable_grad():
            _Runner(model, not args.plain, False, None)(x)
    else:
        upscale_tensor(model, x, tile=0, optimize=not args.plain)
    peak = status_bytes("VmHWM") if exact else maxrss_bytes()
    increase = peak - before
    return {"mode": "forward", "model": args.model, "tile": args.tile, "optimized": not args.plain,
            "peak_increase_bytes": increase, "bytes_per_input_pixel": increase / args.tile ** 2,
            "estimate_bytes_per_input_pixel": bytes_per_input_pixel(model), "hwm_reset": exact,
            "malloc_tuned": bool(args.malloc), "grad_mode": args.grad_mode}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("upscale")
    p.add_argument("--model", default="srresnet")
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--tile", type=int, default=None, help="default: sr_core's automatic choice")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--via-tensor", action="store_true",
                   help="whole float32 output, then 8 bits (the path before row bands) instead of sr_core.upscale")
    p.set_defaults(func=cmd_upscale)
    p = sub.add_parser("forward")
    p.add_argument("--model", default="srresnet")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--plain", action="store_true", help="the network as it is (optimize=False)")
    p.add_argument("--grad-mode", action="store_true", help="grad mode on (no graph: nothing requires grad)")
    p.set_defaults(func=cmd_forward)
    for p in sub.choices.values():
        p.add_argument("--threads", type=int, default=0)
        p.add_argument("--malloc", action="store_true", help="sr_core.optimize.tune_malloc() first")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(args.func(args)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
