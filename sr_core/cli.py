"""Command line: ``python -m sr_core {upscale,video,evaluate,models,classify,export-onnx} ...``.

Results go to stdout; errors, warnings and progress bars go to stderr, each error one line
starting with ``error:`` (never a traceback). Exit codes, the same for every command:

- 0: everything asked for was done (every image written);
- 1: some inputs failed (unreadable, missing, an output in the way); the rest were written and
  the failures are listed on stderr at the end;
- 2: bad usage: an unknown option, model or scale, no inputs at all.

``upscale`` without ``-o`` writes each output beside its input as ``<stem>_<model>_x<scale>.png``
(a folder ``F`` given as input goes to ``F_<model>_x<scale>/`` beside it, with the same tree).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from .detail import DEFAULT_DETAIL, detail_label

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_MODEL = "real"  # upscale's default: the model for ordinary photos (noise, JPEG); the app's default too
OUTPUT_EXTS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _progress(enabled: bool, **kwargs):
    from tqdm import tqdm

    return tqdm(disable=not enabled or not sys.stderr.isatty(), dynamic_ncols=True, **kwargs)


def _load(name: str, device: str, scale: int | None, detail: float | None = None):
    from . import load_model
    from .detail import detail_for

    try:  # real without --detail: its default detail (detail_for refuses a detail for other models)
        model = load_model(name, device=device, detail=detail_for(name, detail))
    except (FileNotFoundError, ValueError) as err:  # CheckpointError is a ValueError
        raise CLIError(str(err)) from None
    if scale is not None and model.config.get("scale") != scale:
        raise CLIError(f"model {name!r} upscales {model.config.get('scale')}x, not {scale}x")
    return model


def _model_label(model, name: str) -> str:
    """A file-name-safe label for output names: the model name, or for a checkpoint path its config's name."""
    from .detail import split_name

    base, detail = split_name(name)
    if detail is not None and not Path(name).exists():  # real@0.3: the same label as --model real --detail 0.3
        return detail_label(base, detail)
    label = str(model.config.get("name") or Path(name).stem) if Path(name).exists() else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _output_path(src: Path, inputs: list[str], output: Path | None, single_file: bool, label: str, scale: str,
                 with_suffix: bool = False, ext: str = ".png") -> Path:
    if single_file and output is not None:
        return output
    root = next((Path(i) for i in inputs if Path(i).is_dir() and Path(i) in src.parents), None)
    rel = src.relative_to(root) if root else Path(src.name)
    stem = f"{rel.stem}_{rel.suffix[1:]}" if with_suffix and rel.suffix else rel.stem
    if output is None:  # the default: beside the input (a folder input: beside that folder, same tree)
        output = root.parent / f"{root.name}_{label}_x{scale}" if root else src.parent
    return output / rel.parent / f"{stem}_{label}_x{scale}{ext}"


def _output_paths(inputs: list[Path], args_inputs: list[str], output: Path | None, single_file: bool, label: str,
                  scale: str, ext: str = ".png") -> list[Path]:
    """One output per input: ``<name>_<model>_x<scale>.png``, or ``<name>_<ext>_<model>_x<scale>.png`` for
    inputs that would otherwise share an output (``photo.jpg`` and ``photo.png`` in one folder)."""
    dsts = [_output_path(src, args_inputs, output, single_file, label, scale, ext=ext) for src in inputs]
    shared = {d for d, n in Counter(dsts).items() if n > 1}
    return [_output_path(src, args_inputs, output, single_file, label, scale, with_suffix=True, ext=ext)
            if d in shared else d for src, d in zip(inputs, dsts)]


def _scale_label(scale: float) -> str:
    """``4`` for 4.0, ``2.5`` for 2.5: the ``x<scale>`` part of output names."""
    return f"{scale:g}"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 16:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 16, got {text}")
    return value


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 1-100, got {text}")
    return value


def _readable(inputs: list[Path], limit: int | None) -> tuple[dict[Path, int], list[str]]:
    """The inputs whose headers read as images within ``limit`` pixels (with their pixel counts), and one error
    per other input (printed at once): run before any model is loaded, so a missing or unreadable file is
    reported in a moment."""
    from .io import ImageLoadError, probe_image

    good, failures = {}, []
    for src in inputs:
        try:
            width, height = probe_image(src, max_pixels=limit)
            good[src] = width * height
        except ImageLoadError as err:
            failures.append(str(err))
            print(f"error: {err}", file=sys.stderr, flush=True)
    return good, failures


def _report_failures(failures: list[str], total: int) -> None:
    if failures:
        print(f"{len(failures)} of {total} input(s) failed:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)


def _load_for_upscale(args, pixels: int | None = None):
    """The model for ``upscale`` on the backend ``--backend`` names (auto: see :func:`sr_core.backends.pick_backend`;
    ``pixels``: the input pixels of the run)."""
    from .backends import load_onnx, pick_backend
    from .detail import split_name

    name, detail = split_name(args.model)  # real@0.3 means real at detail 0.3 on either backend
    if detail is None or Path(args.model).exists():
        name, detail = args.model, args.detail
    elif args.detail is not None:
        raise CLIError(f"--model {args.model} already names a detail: drop --detail {args.detail}")
    try:
        backend = pick_backend(name, args.backend, args.device, args.dtype, pixels)
    except ValueError as err:
        raise CLIError(str(err)) from None
    if backend == "torch":
        model = _load(args.model, args.device, args.scale, args.detail)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        from .optimize import tune_malloc

        tune_malloc()  # a short-lived process: reuse freed blocks instead of faulting in fresh pages for every tensor
        return model
    try:
        model = load_onnx(name, detail, args.threads or None)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from None
    if args.scale is not None and model.scale != args.scale:
        raise CLIError(f"model {args.model!r} upscales {model.scale}x, not {args.scale}x")
    return model


def cmd_upscale(args) -> int:
    from .backends import upscale
    from .config import max_pixels
    from .tiling import resize_to_outscale
    from .io import ImageLoadError, image_metadata, list_images, open_image, save_image

    output = Path(args.output) if args.output else None
    if output is not None and output.suffix and not output.is_dir() and len(args.inputs) == 1 \
            and not Path(args.inputs[0]).is_dir():  # one file to a file name: its extension picks the format
        from PIL import Image

        if output.suffix.lower() not in Image.registered_extensions():
            raise CLIError(f"-o {output}: unknown image file extension {output.suffix!r} "
                           "(use .png, .jpg, .webp, .bmp or .tif)")
    inputs = list_images(args.inputs)
    if not inputs:
        raise CLIError(f"no input images found in {', '.join(map(str, args.inputs))}")
    # one input file: -o names the output file (an existing folder or a name without a suffix: a folder)
    single_file = len(args.inputs) == 1 and len(inputs) == 1 and not Path(args.inputs[0]).is_dir() and (
        output is None or (output.suffix != "" and not output.is_dir()))
    limit = args.max_pixels if args.max_pixels is not None else max_pixels()
    readable, failures = _readable(inputs, limit)
    if not readable:  # nothing to run: no model is loaded
        if not single_file:
            _report_failures(failures, len(inputs))
        return EXIT_SOME_FAILED
    model = _load_for_upscale(args, sum(readable.values()))
    scale = model.config["scale"]
    written: list[Path] = []
    label = _model_label(model, args.model)
    if args.detail is not None:
        label = detail_label(label, args.detail)
    out_scale = _scale_label(args.outscale if args.outscale is not None else scale)
    dsts = _output_paths(inputs, args.inputs, output, single_file, label, out_scale, ext=OUTPUT_EXTS[args.ext])
    sources: dict[Path, Path] = {}  # output -> the input it was made from in this run
    ok = set(readable)
    todo = [(src, dst) for src, dst in zip(inputs, dsts) if src in ok]
    bar = _progress(args.progress and len(todo) > 1, total=len(todo), unit="img")
    for src, dst in todo:
        try:
            if dst in sources:  # e.g. a/x.png and b/x.png given as files: never overwrite this run's own output
                raise FileExistsError(f"{src}: same output {dst} as {sources[dst]} (rename one of them)")
            sources[dst] = src
            if dst.exists() and not args.overwrite:
                raise FileExistsError(f"{dst}: exists (pass --overwrite to replace it)")
            img = open_image(src, max_pixels=limit)
            meta = image_metadata(img)
            tiles = _progress(args.progress, desc=src.name, unit="tile", leave=False)

            def on_tile(done, total, tiles=tiles):
                tiles.total = total
                tiles.n = done
                tiles.refresh()

            out = upscale(model, img, tile=args.tile, tile_overlap=args.tile_overlap, progress=on_tile,
                          dtype=args.dtype)
            tiles.close()
            out = resize_to_outscale(out, img.size, args.outscale, scale)
            save_image(out, dst, overwrite=args.overwrite, quality=args.quality, **meta)
            written.append(dst)
            bar.write(f"wrote {dst} ({out.width}x{out.height})", file=sys.stdout)  # one line per file, at once
            sys.stdout.flush()
        except (ImageLoadError, ValueError) as err:
            failures.append(str(err))
            bar.write(f"error: {err}", file=sys.stderr)
        except OSError as err:  # output not writable (exists, read-only, disk full, a file in the way, ...)
            failures.append(f"{src}: {err}" if str(src) not in str(err) else str(err))
            bar.write(f"error: {failures[-1]}", file=sys.stderr)
        except MemoryError:
            failures.append(f"{src}: out of memory (try a smaller --tile)")
            bar.write(f"error: {failures[-1]}", file=sys.stderr)
        bar.update(1)
    bar.close()
    if not single_file:  # one input: its one line (the result, or the error) is all there is
        _report_failures(failures, len(inputs))
    return EXIT_SOME_FAILED if failures else EXIT_OK


def cmd_video(args) -> int:
    """``video IN [-o OUT]``: one clip through :func:`sr_core.video.upscale_video`; exit 1 on a bad input or output."""
    from .config import max_video_pixels
    from .detail import DETAIL_PAIRS
    from .video import DEFAULT_VIDEO_MODEL, VideoError, upscale_video

    # --detail alone means real at that detail (the default, real-psnr, is real at detail 0)
    name = args.model or (next(iter(DETAIL_PAIRS)) if args.detail is not None else DEFAULT_VIDEO_MODEL)
    detail = args.detail
    model = _load(name, args.device, None, detail)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    label = detail_label(_model_label(model, name), detail) if detail is not None else _model_label(model, name)
    scale = model.config["scale"]
    src = Path(args.input)
    dst = Path(args.output) if args.output else \
        src.parent / f"{src.stem}_{label}_x{_scale_label(args.outscale or scale)}.mp4"
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = _progress(not args.quiet, total=total, initial=done, unit="frame", desc=src.name)
        bar.update(done - bar.n)

    try:
        result = upscale_video(model, src, dst, outscale=args.outscale, tile=args.tile, tile_overlap=args.tile_overlap,
                               dtype=args.dtype, resume=args.resume, overwrite=args.overwrite, crf=args.crf,
                               max_pixels=args.max_pixels if args.max_pixels is not None else max_video_pixels(),
                               label=label, progress=progress)
    except VideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        print("interrupted: run the same command with --resume to continue", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    audio = ", ".join([f"{a} copied" for a in result.audio_copied] + [f"{a} re-encoded to AAC"
                                                                      for a in result.audio_reencoded]) or "no audio"
    print(f"wrote {dst} ({result.size[0]}x{result.size[1]}, {result.frames} frames, {audio}; "
          f"{result.fps:.2f} frames/s)")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from .data import load_eval_set
    from .metrics import evaluate
    from .nets import build_preset

    model = _load(args.model, args.device, args.scale)
    scale = model.config["scale"]
    bicubic = build_preset("bicubic", scale=scale)
    try:
        pairs = load_eval_set(args.hr_dir, scale, args.degradation)
    except FileNotFoundError as err:
        raise CLIError(str(err)) from None
    results = {label: evaluate(m, pairs, scale, tile=args.tile)["per_image"]
               for label, m in (("model", model), ("bicubic", bicubic))}
    rows = [{"image": name, **{f"{label}_{k}": v[name][k] for label, v in results.items() for k in ("psnr", "ssim")}}
            for name, _, _ in pairs]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "image"}
    print(f"{'image':<16}{args.model + ' PSNR':>18}{'SSIM':>8}{'bicubic PSNR':>15}{'SSIM':>8}")
    for r in rows + [{"image": "mean", **mean}]:
        print(f"{r['image']:<16}{r['model_psnr']:>18.3f}{r['model_ssim']:>8.4f}{r['bicubic_psnr']:>15.3f}"
              f"{r['bicubic_ssim']:>8.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "hr_dir": str(args.hr_dir), "scale": scale,
                                               "degradation": args.degradation, "metric": "Y-PSNR/SSIM, border=scale",
                                               "images": rows, "mean": mean}, indent=2))
    return 0


def _light_model_rows() -> list[tuple[str, ...]]:
    """The rows of ``models`` without torch: every name, parameters from its ONNX graph's metadata."""
    from .backends import TORCH_EXTRA, graph_path, read_metadata
    from .presets import PRESETS

    rows = []
    for name, (arch, hparams) in PRESETS.items():
        detail = arch + "".join(f" {k}={v}" for k, v in hparams.items() if k in ("conv", "mode", "norm"))
        graph = graph_path(name)
        params = read_metadata(graph).get("parameters") if graph else None
        rows.append((name, detail, str(hparams.get("scale", 4)), f"{int(params):,}" if params else "-",
                     "present (onnx)" if graph else f"needs {TORCH_EXTRA}"))
    return rows


def cmd_models(args) -> int:
    from .backends import TORCH_EXTRA, torch_installed

    if not torch_installed():
        print(format_table(("name", "architecture", "scale", "parameters", "weights"), _light_model_rows(),
                          right=(2, 3)))
        print(f"this install runs the shipped models on ONNX Runtime; classical interpolation, checkpoints and "
              f"your own models (SR_MODELS_DIR) need PyTorch: {TORCH_EXTRA}", file=sys.stderr)
        return 0
    from .checkpoint import has_weights
    from .nets import NET_PRESETS, build_preset, count_parameters

    rows = []
    for name, (arch, hparams) in NET_PRESETS.items():
        detail = arch + "".join(f" {k}={v}" for k, v in hparams.items() if k in ("conv", "mode", "norm"))
        params = count_parameters(build_preset(name))
        present = "built-in" if arch == "interpolation" else ("present" if has_weights(name) else "missing")
        rows.append((name, detail, str(hparams.get("scale", 4)), f"{params:,}", present))
    from .community import models_dir_rows
    from .config import models_dir

    for name, detail, scale, params, present in models_dir_rows():  # your own models (sr_core.community)
        scale, params = ("-", "-") if params is None else (str(scale), f"{params:,}")
        rows.append((name, detail, scale, params, present))
    print(format_table(("name", "architecture", "scale", "parameters", "weights"), rows, right=(2, 3)))
    print(f"your own models: {models_dir()} (SR_MODELS_DIR; .pth / .pt / .ckpt / .safetensors files, any "
          "architecture spandrel recognises)", file=sys.stderr)
    return 0


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> str:
    """Plain-text columns as wide as their widest cell, two spaces apart; columns in ``right`` right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def cmd_classify(args) -> int:
    from .classifier import LABELS, load_classifier, predict_proba
    from .checkpoint import CheckpointError
    from .io import ImageLoadError, list_images, open_image

    try:
        model = load_classifier(args.model, device=args.device)
    except (FileNotFoundError, CheckpointError, ValueError) as err:
        raise CLIError(str(err)) from None
    inputs = list_images(args.inputs)
    if not inputs:
        raise CLIError("no input images found")
    results, failures = [], 0

    def flush(batch):
        probs = predict_proba(model, [img for _, img in batch])
        for (src, _), p in zip(batch, probs.tolist()):
            results.append({"path": str(src), "label": LABELS[max(range(len(p)), key=p.__getitem__)],
                            "p_cat": round(p[0], 6), "p_dog": round(p[1], 6)})
            if not args.json:
                print(f"{results[-1]['label']}  p_cat={p[0]:.4f}  p_dog={p[1]:.4f}  {src}", flush=True)

    batch = []
    for src in inputs:
        try:
            batch.append((src, open_image(src)))
        except (ImageLoadError, OSError, ValueError) as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr, flush=True)
            continue
        if len(batch) == 32:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failures else 0


def cmd_export_onnx(args) -> int:
    from .checkpoint import has_weights
    from .export import export_onnx
    from .nets import CLASSICAL, NET_PRESETS, build_preset

    if args.model in CLASSICAL:
        raise CLIError(f"{args.model!r} is a classical interpolation, not a network; nothing to export")
    if args.model in NET_PRESETS and not has_weights(args.model) and not args.require_weights:
        print(f"warning: no weights for {args.model!r}; exporting the architecture with random weights",
              file=sys.stderr)
        model = build_preset(args.model).eval()
        model.config = {"name": args.model, "scale": model.hparams.get("scale")}
    else:
        model = _load(args.model, "cpu", None)
    out = Path(args.output or f"{_model_label(model, args.model)}.onnx")
    try:
        export_onnx(model, out, opset=args.opset, optimize=args.optimize)
    except ImportError as err:
        raise CLIError(f"ONNX export needs the onnx package ({err}); pip install onnx") from None
    except OSError as err:
        raise CLIError(f"{out}: {err}") from None
    print(f"wrote {out} (input 'lr': N x 3 x H x W in [0, 1], any H and W; output 'sr')")
    return 0


def build_parser() -> argparse.ArgumentParser:
    prog = "sr-core" if Path(sys.argv[0]).name == "sr-core" else "python -m sr_core"  # the installed command, or -m
    from . import __version__

    parser = argparse.ArgumentParser(prog=prog, description="Super-resolution toolkit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("upscale", help="upscale image files or folders",
                       epilog="exit status: 0 every image written, 1 some inputs failed (listed on stderr), "
                              "2 bad usage (unknown option or model)")
    p.add_argument("inputs", nargs="+", help="image files and/or folders (PNG, JPEG, WebP, BMP, TIFF, GIF, TGA, "
                                             "PPM/PGM; a folder's files with those extensions)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (one input file; its extension picks the format: .png, .jpg, .webp, .bmp, "
                        ".tif) or folder (default: beside "
                        "each input as <stem>_<model>_x<scale>.png; a folder F goes to F_<model>_x<scale>/)")
    p.add_argument("--outscale", type=_positive_float, default=None,
                   help="final scale (any factor, e.g. 2 from a 4x model): the model's output is resized with "
                        "Lanczos (default: the model's scale)")
    p.add_argument("--ext", default="png", choices=sorted(OUTPUT_EXTS),
                   help="format of outputs named by the tool (default: png); a file name given with -o wins")
    p.add_argument("--quality", type=_quality, default=None, help="JPEG/WebP quality 1-100 (default: 95)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="model name (real@0.3: real at detail 0.3), checkpoint path, a file in SR_MODELS_DIR, any "
                        ".pth/.safetensors/.ckpt model "
                        f"spandrel recognises, or hf://owner/repo/file.pth (default: {DEFAULT_MODEL}, for photos; "
                        "srresnet for clean images)")
    p.add_argument("--detail", type=float, default=None,
                   help=f"real only: 0 (smooth, real-psnr) to 1 (GAN texture), the two outputs mixed "
                        f"(default: {DEFAULT_DETAIL:g})")
    p.add_argument("--scale", type=int, default=None, help="check that the model has this scale")
    p.add_argument("--tile", type=int, default=None, help="tile size in input pixels (default: from free memory; 0: off)")
    p.add_argument("--tile-overlap", type=int, default=16,
                   help="input pixels by which neighbouring tiles overlap and are blended, so no seam shows "
                        "(default: 16)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger inputs (default: SR_MAX_PIXELS or 16M)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the network (default: torch's choice)")
    p.add_argument("--dtype", default="auto", choices=["float32", "float16", "bfloat16", "auto"],
                   help="precision of the convolutions (auto: float16 on CUDA, bfloat16 on CPUs with AMX or AVX512-BF16, where "
                        "it is 2-3x faster than float32 with the same PSNR; float32 elsewhere)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"],
                   help="what runs the network: onnx (ONNX Runtime, the shipped models' graphs; all the light "
                        "install has), torch, or auto: onnx for a shipped model on the CPU at the default "
                        "precision, else torch")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("video", help="upscale a video file to MP4 (H.264), keeping its sound and timing",
                       epilog="exit status: 0 written, 1 bad input or output (one line on stderr), 2 bad usage; "
                              "130 interrupted (the finished chunks are kept: rerun with --resume)")
    p.add_argument("input", help="any video FFmpeg reads")
    p.add_argument("-o", "--output", default=None,
                   help="output .mp4 (default: beside the input as <stem>_<model>_x<scale>.mp4)")
    p.add_argument("--model", default=None,
                   help="as for upscale (default: real-psnr, the steadiest of the models for compressed, noisy "
                        "input; see docs/video.md)")
    p.add_argument("--detail", type=float, default=None,
                   help=f"real only (alone: --model real): 0 (smooth, real-psnr) to 1 (GAN texture, flickers most); "
                        f"photos default to {DEFAULT_DETAIL:g}")
    p.add_argument("--outscale", type=_positive_float, default=None, help="final scale (Lanczos after the network)")
    p.add_argument("--tile", type=int, default=None, help="tile size in input pixels (default: from free memory)")
    p.add_argument("--tile-overlap", type=int, default=16)
    p.add_argument("--dtype", default="auto", choices=["float32", "float16", "bfloat16", "auto"],
                   help="precision of the convolutions, as for upscale")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the network (default: torch's choice)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 (lossless) to 51 (default: 18)")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="refuse larger frames (default: SR_VIDEO_MAX_PIXELS or 1920x1088)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its finished chunks (same input and settings)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("evaluate", help="PSNR/SSIM of a model and of bicubic on a folder of HR images")
    p.add_argument("--model", required=True)
    p.add_argument("--hr-dir", required=True, type=Path)
    p.add_argument("--scale", type=int, default=None)
    p.add_argument("--degradation", default="bicubic", choices=["bicubic", "blur"])
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="list the model names")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("classify", help="cat or dog? classify image files or folders")
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("--model", default="classifier-a", help="classifier-a, classifier-b or a weights folder/file")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto, ...")
    p.add_argument("--json", action="store_true", help="print a JSON list: path, label, p_cat, p_dog per image")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("export-onnx", help="write a model as ONNX (dynamic batch, height and width)")
    p.add_argument("--model", default="srresnet", help="model name or checkpoint path (default: srresnet)")
    p.add_argument("-o", "--output", default=None, help="output file (default: <model>.onnx)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--require-weights", dest="require_weights", action="store_true",
                   help="fail if the model has no weights (default: a model name without shipped weights is exported "
                        "with random ones)")
    p.add_argument("--weights", dest="require_weights", action="store_true",
                   help=argparse.SUPPRESS)  # the old name of --require-weights: old commands keep working
    p.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="export the network as built, without BatchNorm folding and the phase-domain tail")
    p.set_defaults(func=cmd_export_onnx)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as err:  # a feature of an extra this install lacks: one line, no traceback
        from .backends import TORCH_EXTRA, TORCH_MODULES

        root = (err.name or "").split(".")[0]
        if root == "onnxruntime":
            print(f"error: sr-core {args.command} --backend onnx needs onnxruntime: pip install onnxruntime",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        if root not in TORCH_MODULES:
            raise
        if err.name == "torch" and TORCH_EXTRA in str(err):
            print(f"error: {err}", file=sys.stderr)
        else:
            print(f"error: sr-core {args.command} needs {err.name}, which this install lacks: {TORCH_EXTRA}",
                  file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m sr_core.cli, like python -m sr_core
    sys.exit(main())
