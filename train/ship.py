"""Ship a training run's generator as ``weights/<name>/``: weights, config.json and a model card.

    python -m train.ship runs/srresnet_cpu srresnet
    python -m train.ship runs/srgan_cpu srgan --note "GAN stage started from srresnet at iteration 4500"

Copies ``<run>/weights/`` (float16 tensors, loaded back as float32), measures the
model on Set5, Set14 and BSD100 with the benchmark protocol of
``benchmarks.quality`` (BSD100 is only reported, never used for choices), and writes
``weights/<name>/README.md`` with the data, iterations, wall time, machine and
those figures. The figures also go into ``config.json`` under ``metrics``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sr_core import config as sr_config
from sr_core.checkpoint import load_model, save_pretrained, training_metadata
from sr_core.data import load_eval_set
from sr_core.metrics import evaluate
from sr_core.nets import count_parameters

from benchmarks.hardware import machine_info
from benchmarks.quality import SETS
from .records import read_metrics, without_machine_paths


def _short(path: str) -> str:
    """A path relative to the working folder when it is below it (no machine-specific prefix in model cards)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def data_line(train_dirs: str) -> str:
    if train_dirs == "sr_train":
        return ("`sr_train` under the data root (`../shared/data`: BSDS200, T91 and Sun-Hays 80, see its "
                "SOURCES.md)")
    return ", ".join(f"`{_short(d)}`" for d in train_dirs.split(","))


def describe(cfg: dict) -> str:
    h = cfg["hparams"]
    if cfg["arch"] == "fastsr":
        att = "SPAN's parameter-free attention" if h.get("attention", True) else "no attention"
        return (f"FastSR (the project's CPU-first network: every convolution at the input resolution, one pixel "
                f"shuffle, the nearest-upsampled input as skip), {h['num_blocks']} blocks of three re-parameterised "
                f"3x3 convolutions (merged for inference), {h['num_features']} features, {att}")
    if cfg["arch"] == "srcnn":
        kind = "residual (predicts a correction to bicubic)" if h.get("residual") else "plain (paper)"
        return f"SRCNN 9-5-5, {h['num_features']}/{h['mid_features']} filters, RGB, {kind}"
    conv = "depthwise-separable (Swift-SRGAN)" if h.get("conv") == "separable" else "standard"
    norm = "BatchNorm (paper)" if h.get("norm") == "batch" else "no BatchNorm"
    skip = ", bicubic global skip" if h.get("global_skip") == "bicubic" else ""
    return (f"SRResNet generator, {h['num_blocks']} residual blocks, {h['num_features']} features, {conv} "
            f"convolutions, {norm}{skip}, {h.get('output', 'linear')} output")


def _time_line(gpu: bool, seconds: float, cpu_s: float, threads: int, machine: dict, device_note: str) -> str:
    """The model card's line on what this run's training took (a GPU run: minutes on the device, no CPU-hours)."""
    if gpu:
        return f"- Time: {seconds / 60:.1f} min of training on {device_note}."
    return (f"- Wall time: {seconds / 3600:.2f} h on {machine['cpu']} ({machine['usable_cores']} cores, no GPU), a "
            f"machine shared with other jobs during training; {cpu_s / 3600:.2f} CPU-hours (wall time x torch "
            f"threads, {threads} at the end).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder (holds weights/, metrics.jsonl, config.json)")
    parser.add_argument("name", help="model name to ship as (weights/<name>/)")
    parser.add_argument("--note", default="", help="a sentence for the model card")
    parser.add_argument("--data", default="", help="the model card's description of the training data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--device-note", default="one NVIDIA H200 GPU (the `device` lease, `train/lease.sh`)",
                        help="the model card's words for the accelerator of a run trained with --device=cuda")
    parser.add_argument("--weights", type=Path, default=None,
                        help="ship these weights of the run instead of its last (e.g. RUN/snapshots/0000600)")
    args = parser.parse_args(argv)

    weights = args.weights or args.run / "weights"
    model = load_model(weights)
    src_cfg = json.loads((weights / "config.json").read_text())
    rows = read_metrics(args.run / "metrics.jsonl")
    iterations = src_cfg.get("iterations")
    upto = iterations if isinstance(iterations, int) else float("inf")  # a snapshot: the log up to its iteration
    train_rows = [r for r in rows if r.get("kind") == "train" and r.get("iter", 0) <= upto]
    val_rows = [r for r in rows if r.get("kind") == "val" and r.get("iter", 0) <= upto]
    seconds = max((r.get("time", 0) for r in train_rows), default=0)
    training = src_cfg.get("training", {})
    # CPU-hours: wall time x the torch threads of each stretch of the run (0 = torch's default, all usable cores)
    threads = training.get("threads") or machine_info()["usable_cores"]
    cpu_s = seconds * threads
    if (args.run / "config.json").is_file():
        from .cost_curve import cpu_seconds

        cpu_s = cpu_seconds(args.run, upto)[0] or cpu_s

    gpu = str(training.get("device", "")).startswith("cuda")
    results = {}
    for name in args.sets.split(","):
        pairs = load_eval_set(sr_config.benchmark_dir(name), model.config["scale"])
        r = evaluate(model, pairs, model.config["scale"], rounded=True)
        results[name] = {"psnr": round(r["psnr"], 3), "ssim": round(r["ssim"], 4)}
        print(f"{args.name} {name}: {results[name]['psnr']:.3f} dB / {results[name]['ssim']:.4f}", flush=True)

    out = sr_config.weights_dir() / args.name
    meta = training_metadata(src_cfg)
    meta.update(name=args.name, metrics={"protocol": "Y-PSNR/SSIM, 4-px border, LR by Pillow bicubic", **results},
                run=str(args.run), train_seconds=round(seconds), train_threads=threads,
                cpu_hours=round(0.0 if gpu else cpu_s / 3600, 3))
    if gpu:
        meta["gpu_minutes"] = round(seconds / 60, 1)
    meta = without_machine_paths(meta)
    save_pretrained(model, out, half=True, **meta)
    machine = machine_info()
    gan_keys = ("content_backbone", "content_weight", "adv_weight", "pixel_weight", "discriminator", "d_features")
    recipe = {k: training[k] for k in ("model", "stage", "loss", "lr", "schedule", "max_iters", "batch_size",
                                       "crop_size", "ema", *gan_keys, "init_from", "start_iter", "restart_at",
                                       "train_dirs", "degradation", "mix", "usm_hr", "amp", "seed")
              if k in training and (training.get("stage") == "gan" or k not in gan_keys)
              and (training[k] or k not in ("start_iter", "restart_at", "ema", "usm_hr", "d_features", "mix"))
              and (k != "amp" or training[k] not in ("", "none"))}
    if "train_dirs" in recipe:
        recipe["train_dirs"] = ",".join(_short(d) for d in recipe["train_dirs"].split(","))
    last_val = val_rows[-1] if val_rows else {}
    degradation = training.get("degradation", "bicubic")
    val_name = str(last_val.get("set", training.get("val_set", "Set5")))
    val_name = val_name if "/" not in val_name else f"the images in `{_short(val_name)}`"
    val_lr = ""
    if degradation.startswith("real"):
        val_lr = f" (LR by the `{'real' if degradation == 'real-mix' else degradation}` degradation, fixed seeds)"
    card = [f"# {args.name}", "",
            f"{describe(model.config)}; {count_parameters(model):,} parameters; 4x; RGB [0, 1] in and out.", ""]
    if args.note:
        card += [args.note, ""]
    mix = f", components {training['mix']}" if training.get("mix") else ""
    lr_by = (f"`{degradation}` degradation{mix} (`sr_core.degradations`: Real-ESRGAN's second-order blur, resize, "
             f"noise and JPEG model) on the fly" if degradation.startswith("real")
             else f"{degradation} downscaling on the fly")
    card += ["## Training", "",
             f"- Data: {args.data or data_line(training.get('train_dirs', '?'))}, random crops, LR by {lr_by}.",
             f"- Iterations: {iterations} (of a {training.get('max_iters', '?')}-iteration schedule; weights saved "
             f"as float16).",
             _time_line(gpu, seconds, cpu_s, threads, machine, args.device_note),
             f"- Recipe: `{json.dumps(recipe)}`",
             (f"- Last validation during training: {val_name}{val_lr} {last_val['psnr']:.3f} dB"
              + (f" (clean bicubic LR: {last_val['clean_psnr']:.3f} dB)" if "clean_psnr" in last_val else "")
              + f" at iteration {last_val.get('iter', '?')} ({val_name} guided training; BSD100 was never looked "
              f"at while training)." if last_val else "- No validation rows in the run's log (BSD100 was never "
              "looked at while training)."), "",
             "## Results (4x, Y-PSNR dB / SSIM, 4-pixel border, LR by Pillow bicubic)", "",
             "| set | PSNR | SSIM |", "|---|---:|---:|"]
    card += [f"| {k} | {v['psnr']:.2f} | {v['ssim']:.4f} |" for k, v in results.items()]
    shipped = f" --weights {weights}" if args.weights else ""
    card += ["", f"Measured by `python -m train.ship {args.run} {args.name}{shipped}` (git {machine['git_commit']}); "
             f"`python -m benchmarks.quality` gives the same figures from the shipped file.", ""]
    (out / "README.md").write_text("\n".join(card))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
