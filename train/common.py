"""The training loop shared by every SR experiment, and its ``--key=value`` configuration.

Each experiment module (``train/srresnet.py``, ``train/srgan.py``, ...) defines
a dataclass of defaults and calls :func:`main`. A run lives in
``runs/<name>/``: ``config.json`` (resolved config + argv), ``metrics.jsonl``,
``state.pt`` (full training state, never shipped), ``weights/`` (the current
generator as ``model.safetensors`` + ``config.json``), ``grids/`` and plots.

    python -m train.srresnet --max_iters=2000 --name=my_run
    python -m train.srresnet --name=my_run --resume          # continue after a kill
    torchrun --nproc_per_node=2 -m train.srresnet ...         # data-parallel
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from sr_core import config as sr_config
from sr_core.checkpoint import load_model, save_pretrained
from sr_core.data import SRTrainSet, StepSampler, load_eval_set
from sr_core.losses import ContentLoss, PixelLoss
from sr_core.nets import SRGANDiscriminator, build_preset, count_parameters
from sr_core.training import (Meter, evaluate, gan_step, load_state, pixel_step, replicas_in_sync, save_state,
                              seed_everything, setup_distributed)


@dataclass
class TrainConfig:
    """Defaults are the SRResNet recipe of Ledig et al. 2017; experiments override them."""
    name: str = "srresnet"                 # run folder: runs/<name>
    model: str = "srresnet"                # preset of sr_core.nets.PRESETS for the generator
    stage: str = "pixel"                   # "pixel" (MSE/L1 training) or "gan" (SRGAN training)
    # generator architecture (empty string: the preset's value)
    norm: str = "batch"
    global_skip: str = "none"
    conv: str = ""
    num_blocks: int = 0                    # 0: preset value
    num_features: int = 0
    residual: bool = False                 # SRCNN only
    scale: int = 4
    # data
    data_root: str = ""                    # default: SR_DATA_ROOT or ../shared/data
    train_dirs: str = "sr_train"           # comma-separated, relative to data_root
    val_set: str = "Set5"                  # folder under sr_benchmark/ (validation only)
    crop_size: int = 96
    degradation: str = "bicubic"           # or "blur"
    blur_sigma: float = 1.6
    workers: int = 2
    # optimisation
    batch_size: int = 16
    lr: float = 1e-4
    betas: tuple = (0.9, 0.999)
    loss: str = "mse"                      # pixel loss: mse or l1
    schedule: str = "constant"             # constant | step (x0.1 at half, the SRGAN paper) | cosine
    min_lr: float = 1e-6
    max_iters: int = 1_000_000
    channels_last: bool = True
    threads: int = 0                       # torch threads; 0 = torch's default
    # GAN stage
    init_from: str = ""                    # generator weights to start from (name or path)
    start_iter: int = 0                    # with init_from: continue the lr schedule from this iteration
    content_backbone: str = "efficientnet_lite0"
    content_weight: float = 1.0
    adv_weight: float = 1e-3
    pixel_weight: float = 0.0
    tv_weight: float = 0.0
    lr_d: float = 0.0                      # 0: same as lr
    # bookkeeping
    seed: int = 0
    deterministic: bool = False
    log_every: int = 50
    val_every: int = 500
    ckpt_every: int = 250
    half_weights: bool = False             # export weights/ in float16
    resume: bool = False
    progress: bool = True
    tiny: bool = False                     # a seconds-long configuration for tests
    device: str = "auto"

    def model_args(self) -> dict:
        args = {"scale": self.scale}
        if self.model == "srcnn":
            return {**args, "residual": self.residual}
        for key in ("norm", "global_skip", "conv", "num_blocks", "num_features"):
            value = getattr(self, key)
            if value:
                args[key] = value
        return args


def parse_overrides(cfg, argv: list[str]):
    """Apply ``--key=value`` (and bare ``--flag`` for booleans) to a config dataclass, checking types."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    for arg in argv:
        if not arg.startswith("--"):
            raise SystemExit(f"unexpected argument {arg!r}; use --key=value")
        key, sep, raw = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not sep and key.startswith("no_") and isinstance(getattr(cfg, key[3:], None), bool):
            setattr(cfg, key[3:], False)  # --no-progress
            continue
        if key not in fields:
            raise SystemExit(f"unknown option --{key}; options: {', '.join(sorted(fields))}")
        current = getattr(cfg, key)
        if isinstance(current, bool):
            value = True if not sep else raw.lower() in ("1", "true", "yes", "on")
        elif not sep:
            raise SystemExit(f"--{key} needs a value (--{key}=...)")
        elif isinstance(current, tuple):
            value = tuple(float(v) for v in raw.split(","))
        else:
            try:
                value = type(current)(float(raw)) if isinstance(current, int) else type(current)(raw)
            except ValueError:
                raise SystemExit(f"--{key}={raw}: expected {type(current).__name__}") from None
        setattr(cfg, key, value)
    if cfg.tiny:
        for key, value in dict(crop_size=32, batch_size=2, num_blocks=1, num_features=8, workers=0, log_every=1,
                               val_every=2, ckpt_every=1, val_set="Set5").items():
            if f"--{key}" not in " ".join(argv):
                setattr(cfg, key, value)
    return cfg


def lr_factor(cfg: TrainConfig, it: int) -> float:
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "step":
        return 1.0 if it < cfg.max_iters // 2 else 0.1
    if cfg.schedule == "cosine":
        floor = cfg.min_lr / cfg.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(it, cfg.max_iters) / cfg.max_iters))
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def save_grid(model, pairs, path: Path, scale: int, size: int = 96) -> None:
    """LR (nearest) | bicubic | SR | HR, centre crops of each validation image, one row per image."""
    from PIL import Image

    from sr_core.io import to_image
    from sr_core.resize import resize
    from sr_core.inference import upscale_tensor

    rows = []
    for _, lr, hr in pairs:
        h, w = hr.shape[-2:]
        s = min(size, h, w) // scale * scale
        y, x = (h - s) // 2 // scale * scale, (w - s) // 2 // scale * scale
        lr_c = lr[..., y // scale:(y + s) // scale, x // scale:(x + s) // scale]
        views = [resize(lr_c, (s, s), "nearest"), resize(lr_c, (s, s), "bicubic"),
                 upscale_tensor(model, lr_c, tile=0), hr[..., y:y + s, x:x + s]]
        rows.append(torch.cat([v.clamp(0, 1) for v in views], dim=3))
    width = max(r.shape[-1] for r in rows)
    grid = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[-1])) for r in rows], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_image(grid).resize((grid.shape[-1] * 2, grid.shape[-2] * 2), Image.NEAREST).save(path)


def plot_curves(run_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in sorted({k for r in train for k in r} - {"kind", "iter", "lr", "time", "it_per_s"}):
        pts = [(r["iter"], r[key]) for r in train if key in r]
        axes[0].plot(*zip(*pts), label=key)
    axes[0].set(xlabel="iteration", ylabel="loss", title="training losses", yscale="log")
    axes[0].legend()
    if val:
        axes[1].plot([r["iter"] for r in val], [r["psnr"] for r in val], marker="o")
    axes[1].set(xlabel="iteration", ylabel="Y-PSNR (dB)", title="validation PSNR")
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    plt.close(fig)


def run(cfg: TrainConfig) -> dict:
    """Train according to ``cfg``; returns the last validation metrics."""
    rank, world, device = setup_distributed(cfg.device)
    main_rank = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, cfg.deterministic)
    run_dir = Path("runs") / cfg.name
    data_root = Path(cfg.data_root) if cfg.data_root else sr_config.data_root()
    if main_rank:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(
            {"config": dataclasses.asdict(cfg), "argv": sys.argv, "world_size": world}, indent=2))

    generator = build_preset(cfg.model, **cfg.model_args())
    if cfg.init_from:
        init = load_model(cfg.init_from)
        generator.load_state_dict(init.state_dict())
    generator.to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    generator.to(memory_format=memory_format)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=cfg.betas)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lambda i: lr_factor(cfg, i + cfg.start_iter))
    discriminator = opt_d = sched_d = content = None
    pixel = PixelLoss(cfg.loss).to(device)
    if cfg.stage == "gan":
        tiny = dict(num_features=8, num_convs=4, fc_size=32) if cfg.tiny else {}
        discriminator = SRGANDiscriminator(conv=cfg.conv or "standard", **tiny).to(device)
        discriminator.to(memory_format=memory_format)
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d or cfg.lr, betas=cfg.betas)
        sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda i: lr_factor(cfg, i + cfg.start_iter))
        content = ContentLoss(cfg.content_backbone).to(device) if cfg.content_weight else None

    start = cfg.start_iter
    state_path = run_dir / "state.pt"
    if cfg.resume and state_path.is_file():
        state = load_state(state_path)
        generator.load_state_dict(state["generator"])
        opt_g.load_state_dict(state["opt_g"])
        sched_g.load_state_dict(state["sched_g"])
        if discriminator is not None:
            discriminator.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
            sched_d.load_state_dict(state["sched_d"])
        torch.set_rng_state(state["rng"])
        start = int(state["iter"])
        if main_rank:
            print(f"resumed {run_dir} at iteration {start}", flush=True)
    elif cfg.resume and main_rank:
        print(f"--resume: no {state_path} yet; starting from scratch", flush=True)

    g_train = DDP(generator) if world > 1 else generator
    d_train = DDP(discriminator) if world > 1 and discriminator is not None else discriminator

    dataset = SRTrainSet([data_root / d for d in cfg.train_dirs.split(",")], cfg.crop_size, cfg.scale,
                         cfg.degradation, seed=cfg.seed, blur_sigma=cfg.blur_sigma)
    loader = DataLoader(dataset, batch_sampler=StepSampler(cfg.batch_size, start, rank, world),
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
                        prefetch_factor=4 if cfg.workers else None)
    val_pairs = load_eval_set(data_root / "sr_benchmark" / cfg.val_set / "HR", cfg.scale, cfg.degradation,
                              cfg.blur_sigma) if main_rank else []

    def checkpoint(it: int) -> None:
        if not main_rank:
            return
        state = {"iter": it, "generator": generator.state_dict(), "opt_g": opt_g.state_dict(),
                 "sched_g": sched_g.state_dict(), "rng": torch.get_rng_state()}
        if discriminator is not None:
            state.update(discriminator=discriminator.state_dict(), opt_d=opt_d.state_dict(),
                         sched_d=sched_d.state_dict())
        save_state(state_path, state)
        save_pretrained(generator, run_dir / "weights", half=cfg.half_weights, name=cfg.name,
                        iterations=it, seed=cfg.seed, dataset=cfg.train_dirs, degradation=cfg.degradation,
                        training=dataclasses.asdict(cfg))

    def log(row: dict) -> None:
        if main_rank:
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    progress = None
    if main_rank and cfg.progress:
        from tqdm import tqdm

        progress = tqdm(total=cfg.max_iters, initial=start, dynamic_ncols=True)
    meter, t0, last = Meter(), time.time(), {}
    g_train.train()
    it = start
    batches = iter(loader)
    if main_rank:
        print(f"{cfg.model}: {count_parameters(generator):,} parameters, {world} process(es), device {device}",
              flush=True)
    while it < cfg.max_iters:
        lr_img, hr_img = next(batches)
        lr_img = lr_img.to(device).contiguous(memory_format=memory_format)
        hr_img = hr_img.to(device).contiguous(memory_format=memory_format)
        if cfg.stage == "gan":
            values = gan_step(g_train, d_train, lr_img, hr_img, opt_g, opt_d, content_loss=content,
                              pixel_loss=pixel, adv_weight=cfg.adv_weight, content_weight=cfg.content_weight,
                              pixel_weight=cfg.pixel_weight, tv_weight=cfg.tv_weight)
            sched_d.step()
        else:
            values = pixel_step(g_train, lr_img, hr_img, opt_g, pixel)
        sched_g.step()
        it += 1
        meter.update(values)
        if progress is not None:
            progress.update(1)
        if it % cfg.log_every == 0 or it == cfg.max_iters:
            means = meter.means()
            elapsed = time.time() - t0
            log({"kind": "train", "iter": it, "lr": sched_g.get_last_lr()[0], "time": elapsed, **means})
            if progress is not None:
                progress.set_postfix({k: f"{v:.4g}" for k, v in means.items() if k in ("loss", "loss_g", "loss_d")})
            meter.reset()
        if it % cfg.ckpt_every == 0 or it == cfg.max_iters:
            checkpoint(it)
        if main_rank and (it % cfg.val_every == 0 or it == cfg.max_iters):
            last = evaluate(generator, val_pairs, cfg.scale)
            log({"kind": "val", "iter": it, "set": cfg.val_set, "psnr": last["psnr"], "ssim": last["ssim"]})
            save_grid(generator, val_pairs[:3], run_dir / "grids" / f"{it:07d}.png", cfg.scale)
            msg = f"iter {it}: {cfg.val_set} PSNR {last['psnr']:.3f} dB, SSIM {last['ssim']:.4f}"
            (progress.write if progress is not None else print)(msg)
    in_sync = replicas_in_sync(generator)
    if world > 1:
        log({"kind": "sync", "iter": it, "in_sync": in_sync, "world_size": world})
    if progress is not None:
        progress.close()
    if main_rank and (run_dir / "metrics.jsonl").exists():
        plot_curves(run_dir)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return {k: v for k, v in last.items() if k != "per_image"}


def main(cfg, recipes: dict[str, dict] | None = None, argv: list[str] | None = None) -> dict:
    """Apply ``--recipe=NAME`` (a dict of overrides from the experiment module), then ``--key=value``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    recipes = recipes or {}
    for arg in [a for a in argv if a.startswith("--recipe=")]:
        name = arg.split("=", 1)[1]
        if name not in recipes:
            raise SystemExit(f"unknown recipe {name!r}; known: {', '.join(recipes) or 'none'}")
        for key, value in recipes[name].items():
            setattr(cfg, key, value)
        argv.remove(arg)
    return run(parse_overrides(cfg, argv))
