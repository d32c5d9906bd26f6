"""The training loop shared by every SR experiment, and its ``--key=value`` configuration.

Each experiment module (``train/srresnet.py``, ``train/srgan.py``, ...) defines
a dataclass of defaults and calls :func:`main`. A run lives in
``runs/<name>/`` (relative to the working directory): ``config.json`` (resolved
config + argv, and one entry per resume), ``metrics.jsonl``, ``state.pt`` (full
training state, never shipped), ``weights/`` (the current generator as
``model.safetensors`` + ``config.json``), ``grids/`` and ``curves.png``.

    python -m train.srresnet --max_iters=2000 --name=my_run
    python -m train.srresnet --name=my_run --resume          # continue after a kill
    torchrun --standalone --nproc_per_node=2 -m train.srresnet ...   # data-parallel (gloo on CPU)

Surviving kills: ``state.pt`` is written every ``ckpt_every`` iterations to a
temporary file and renamed over the old one, so a kill (even ``kill -9``) leaves
either the previous or the new state, never a torn file. ``--resume`` restores
the generator (and discriminator), their optimisers and schedulers, the torch
RNG and the iteration count; training samples are a pure function of
``(seed, sample number)`` (``sr_core.data``), so with ``--deterministic`` a
killed-and-resumed run ends bit-for-bit where an uninterrupted one does, as
long as the number of processes and torch threads is the same. ``metrics.jsonl``
rows written after the checkpoint that is resumed from are dropped on resume.
SIGINT/SIGTERM stop the loop at the end of the current iteration, write a
checkpoint and exit with status 128 + signal number (prefer ``kill -TERM
<pid>``: a Ctrl-C also reaches the data-loader workers). Starting a run whose
``state.pt`` exists without ``--resume`` is refused (``--overwrite`` forces it).

Progress: a tqdm bar with the running losses (``--no-progress`` for logs),
``metrics.jsonl`` rows (``train`` every ``log_every``, ``val`` every
``val_every`` with a grid PNG of LR | bicubic | SR | HR crops, ``resume``,
and ``sync`` under torchrun), ``curves.png`` at the end (``--no-plot`` skips it).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from sr_core import config as sr_config
from sr_core.checkpoint import load_model, save_pretrained
from sr_core.io import atomic_write
from sr_core.data import MIXES, SRTrainSet, StepSampler, load_eval_set
from sr_core.degradations import usm_sharp
from sr_core.losses import ContentLoss, PixelLoss, WeightsUnavailableError
from sr_core import nets as sr_nets
from sr_core.nets import SRGANDiscriminator, UNetDiscriminatorSN, build_preset, count_parameters
from sr_core.metrics import evaluate
from sr_core.training import (Meter, gan_step, load_state, pixel_step, replicas_in_sync, save_state,
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
    val_set: str = "Set5"                  # folder under sr_benchmark/, or a path to HR images (validation only)
    crop_size: int = 96
    degradation: str = "bicubic"           # or "blur", "real", "real-mild", "real-mix" (training and validation
                                           # LR alike; real-mix validates on real)
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
    # added after the first runs (defaults keep those runs' behaviour and state.pt layout)
    optimizer: str = "adam"                # adam | adamw | sgd (for the generator and the discriminator)
    momentum: float = 0.9                  # sgd only
    weight_decay: float = 0.0
    tail_lr_mult: float = 1.0              # lr multiplier of the generator's last layer (SRCNN paper: 0.1)
    d_conv: str = ""                       # discriminator convs; "": the generator's (separable for Swift-SRGAN)
    content_scale: float = 0.0             # factor on content features; 0: CONTENT_SCALES[content_backbone]
    overwrite: bool = False                # start afresh even though runs/<name>/state.pt exists
    val_crop: int = 0                      # validate on centre crops of at most this many HR pixels a side (0: whole)
    plot: bool = True                      # write curves.png at the end (--no-plot skips matplotlib)
    stop_at: int = 0                       # checkpoint and stop at this iteration (the lr schedule still
                                           # follows max_iters): train a long run in slices with --resume
    restart_at: int = 0                    # step/cosine: the schedule starts afresh at this iteration and runs
                                           # to max_iters (a warm restart, SGDR): continue a finished run
    snapshots: bool = False                # also keep the weights of every validation point (runs/<name>/
                                           # snapshots/<iter>/): GAN runs drift, pick one by its grid and PSNR
    ema: float = 0.0                       # >0: keep an exponential moving average of the generator's weights
                                           # with this decay; it is what is validated, exported and shipped
    amp: str = "none"                      # none | bf16 | fp16: autocast of the forward passes (CUDA; bf16 also CPU)
    pin_memory: bool = True                # page-locked loader batches when training on CUDA
    time_limit: float = 0.0                # seconds: checkpoint and stop once this run has trained this long
    expand: int = -1                       # fast only: gain of the expand/squeeze training branch (-1: preset)
    attention: str = ""                    # fast only: "on" / "off" (""): preset, SPAN's parameter-free attention)
    discriminator: str = "srgan"           # GAN stage: srgan (one logit per image) | unet (Real-ESRGAN's U-Net
                                           # with spectral norm, a logit per pixel)
    d_features: int = 0                    # discriminator width; 0: its default (64)
    usm_hr: bool = False                   # pixel and content losses against the unsharp-masked HR
    mix: str = ""                          # real-mix only: its components, "bicubic:0.5,real-mild:0.2,real:0.3"
                                           # ("": sr_core.data.MIXES); such runs also validate on clean bicubic LR
                                           # (Real-ESRGAN); the discriminator sees the plain HR

    def model_args(self) -> dict:
        args = {"scale": self.scale}
        if sr_nets.PRESETS.get(self.model, ("",))[0] == "fastsr":
            for key in ("num_blocks", "num_features"):
                if getattr(self, key):
                    args[key] = getattr(self, key)
            if self.expand >= 0:
                args["expand"] = self.expand
            if self.attention:
                args["attention"] = self.attention == "on"
            return args
        if self.model == "srcnn":
            args["residual"] = self.residual
            if self.num_features:
                args["num_features"] = self.num_features
            return args
        for key in ("norm", "global_skip", "conv", "num_blocks", "num_features"):
            value = getattr(self, key)
            if value:
                args[key] = value
        return args


# Content-feature factors when --content_scale=0. The SRGAN paper divides VGG19 phi_5,4 by 12.75 "to obtain VGG
# losses of a scale that is comparable to the MSE loss" (sr_core applies that itself: None = the library default).
# EfficientNet-Lite0's stride-16 features are larger: bicubic-vs-HR 96 px crops give an MSE of about 23 unscaled;
# 1/32 brings it to ~0.02, the size of the paper's MSE on [-1, 1] images, so 1e-3 adversarial keeps the paper's balance.
CONTENT_SCALES: dict[str, float | None] = {"vgg19": None, "efficientnet_lite0": 1 / 32, "mobilenet_v2": None}

# --tiny: a seconds-long configuration (tests); any of these given explicitly on the command line wins.
TINY = dict(crop_size=32, batch_size=2, num_blocks=1, num_features=8, workers=0, log_every=1, val_every=2,
            ckpt_every=1, val_set="Set5", init_from="", val_crop=64)
TINY_DISCRIMINATOR = dict(num_features=8, num_convs=4, fc_size=32)


def explicit_keys(argv: list[str]) -> set[str]:
    """Config keys named on a command line (``--key=value``, ``--flag``, ``--no-flag``)."""
    keys = set()
    for arg in argv:
        if arg.startswith("--"):
            key = arg[2:].partition("=")[0].replace("-", "_")
            keys.add(key)
            if key.startswith("no_"):
                keys.add(key[3:])
    return keys


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
        given = explicit_keys(argv)
        for key, value in TINY.items():
            if key not in given and key in fields:
                setattr(cfg, key, value)
    return cfg


def without_machine_paths(report: dict, data_root: str | Path | None = None) -> dict:
    """``report`` (JSON-able) with paths below the working folder made relative to it, and the data root (if
    given) written relative to it, so a committed report or config holds no machine-specific prefix."""
    text = json.dumps(report)
    if data_root is not None:
        root = Path(data_root).resolve()
        text = text.replace(str(root), os.path.relpath(root))
    return json.loads(text.replace(str(Path.cwd().resolve()) + "/", ""))


AMP_DTYPES = {"none": None, "bf16": torch.bfloat16}


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """``ema = d * ema + (1 - d) * model`` with ``d = min(decay, (1 + step) / (10 + step))`` (a warm-up, so the
    average does not remember the random initialisation); buffers are copied."""
    d = min(decay, (1 + step) / (10 + step))
    ema_p, model_p = list(ema.parameters()), list(model.parameters())
    torch._foreach_lerp_(ema_p, [p.detach() for p in model_p], 1.0 - d)
    # CUDA's fused foreach kernels leave the version counters alone; the inference cache
    # (sr_core.optimize.cached_prepare) keys on them, so validation would see stale weights
    torch.autograd.graph.increment_version(ema_p)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def lr_factor(cfg: TrainConfig, it: int) -> float:
    """The lr multiplier at iteration ``it``; the schedule spans ``restart_at`` .. ``max_iters``."""
    if cfg.schedule == "constant":
        return 1.0
    if not 0 <= cfg.restart_at < cfg.max_iters:
        raise ValueError(f"restart_at={cfg.restart_at} must lie in [0, max_iters={cfg.max_iters})")
    it, span = max(it - cfg.restart_at, 0), cfg.max_iters - cfg.restart_at
    if cfg.schedule == "step":
        return 1.0 if it < span // 2 else 0.1
    if cfg.schedule == "cosine":
        floor = cfg.min_lr / cfg.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(it, span) / span))
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module, lr: float, tail_lr_mult: float = 1.0):
    """Adam/AdamW/SGD over ``model``; ``tail_lr_mult`` != 1 gives its last child module its own lr."""
    params = list(model.parameters())
    if tail_lr_mult != 1.0:
        tail = list(model.named_children())[-1][0] + "."
        named = list(model.named_parameters())
        params = [{"params": [p for n, p in named if not n.startswith(tail)]},
                  {"params": [p for n, p in named if n.startswith(tail)], "lr": lr * tail_lr_mult}]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise SystemExit(f"--optimizer must be adam, adamw or sgd, got {cfg.optimizer!r}")


def save_grid(model, pairs, path: Path, scale: int, size: int = 96) -> None:
    """LR (nearest) | bicubic | SR | HR, centre crops of each validation image, one row per image."""
    from PIL import Image

    from sr_core.inference import upscale_tensor
    from sr_core.io import to_image
    from sr_core.resize import resize

    rows = []
    was_training = model.training
    model.eval()  # BatchNorm: running statistics, and the grid's crops must not update them
    try:
        for _, lr, hr in pairs:
            h, w = hr.shape[-2:]
            s = min(size, h, w) // scale * scale
            y, x = (h - s) // 2 // scale * scale, (w - s) // 2 // scale * scale
            lr_c = lr[..., y // scale:(y + s) // scale, x // scale:(x + s) // scale]
            views = [resize(lr_c, (s, s), "nearest"), resize(lr_c, (s, s), "bicubic"),
                     upscale_tensor(model, lr_c, tile=0), hr[..., y:y + s, x:x + s]]
            rows.append(torch.cat([v.clamp(0, 1) for v in views], dim=3))
    finally:
        model.train(was_training)
    width = max(r.shape[-1] for r in rows)
    grid = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[-1])) for r in rows], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_image(grid).resize((grid.shape[-1] * 2, grid.shape[-2] * 2), Image.NEAREST).save(path)


def read_metrics(path: Path) -> list[dict]:
    """Rows of a metrics.jsonl; a line torn by a kill is skipped."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def plot_curves(run_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir / "metrics.jsonl")
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    probs = ("d_real", "d_fake")
    gan = any(k in r for r in train for k in probs)
    fig, axes = plt.subplots(1, 3 if gan else 2, figsize=(16 if gan else 11, 4))
    for key in sorted({k for r in train for k in r} - {"kind", "iter", "lr", "time", "it_per_s", *probs}):
        pts = [(r["iter"], r[key]) for r in train if isinstance(r.get(key), (int, float)) and r[key] > 0]
        if pts:
            axes[0].plot(*zip(*pts), label=key)
    axes[0].set(xlabel="iteration", ylabel="loss", title="training losses (running means)", yscale="log")
    if axes[0].lines:
        axes[0].legend(fontsize="small")
    if val:
        axes[1].plot([r["iter"] for r in val], [r["psnr"] for r in val], marker="o")
    axes[1].set(xlabel="iteration", ylabel="Y-PSNR (dB)", title=f"validation PSNR ({val[-1]['set'] if val else ''})")
    if gan:
        for key in probs:
            axes[2].plot([r["iter"] for r in train if key in r], [r[key] for r in train if key in r], label=key)
        axes[2].set(xlabel="iteration", ylabel="mean sigmoid(D)", title="discriminator outputs", ylim=(0, 1))
        axes[2].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    plt.close(fig)


# seed of the validation LR images of the real degradations (image i: (VAL_SEED, i)); benchmarks/real.py's
# BSD100 sets use another seed
VAL_SEED = 7


def validation_pairs(cfg: TrainConfig, data_root: Path) -> list:
    """``(name, lr, hr)`` of ``val_set``, LR made with the training degradation: bicubic or blur, or for
    ``real``/``real-mild`` the same pipeline with fixed seeds (image ``i`` drawn with ``(VAL_SEED, i)``)."""
    # a benchmark name (Set5) or a folder of HR images (a path, absolute or relative to data_root)
    hr_dir = data_root / cfg.val_set if "/" in cfg.val_set else data_root / "sr_benchmark" / cfg.val_set / "HR"
    preset = "real" if cfg.degradation == "real-mix" else cfg.degradation  # a mix: its hardest part
    return load_eval_set(hr_dir, cfg.scale, preset, cfg.blur_sigma, seed=VAL_SEED, crop=cfg.val_crop)


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _content_loss(cfg: TrainConfig) -> ContentLoss:
    scale = cfg.content_scale or CONTENT_SCALES.get(cfg.content_backbone)
    try:
        return ContentLoss(cfg.content_backbone, scale=scale)
    except WeightsUnavailableError as err:
        raise SystemExit(f"content loss: {err}") from None


def _opencv_one_thread() -> None:
    """Loader workers compute one sample at a time: OpenCV's own thread pool (the real degradations) would only
    oversubscribe the cores that the other workers use. Set in the parent, before the workers fork: calling
    ``cv2.setNumThreads`` inside a forked worker waits for pool threads that were not copied, and hangs."""
    import cv2

    cv2.setNumThreads(1)


def _discriminator(cfg: TrainConfig, generator: torch.nn.Module) -> torch.nn.Module:
    if cfg.discriminator == "unet":
        width = cfg.d_features or (8 if cfg.tiny else 64)
        return UNetDiscriminatorSN(num_features=width)
    if cfg.discriminator != "srgan":
        raise SystemExit(f"--discriminator must be srgan or unet, got {cfg.discriminator!r}")
    d_conv = cfg.d_conv or generator.hparams.get("conv", "standard")
    args = dict(TINY_DISCRIMINATOR) if cfg.tiny else {}
    if cfg.d_features:
        args["num_features"] = cfg.d_features
    return SRGANDiscriminator(conv=d_conv, **args)


def _load_init(cfg: TrainConfig, generator: torch.nn.Module) -> None:
    """Copy ``init_from``'s weights into ``generator``; the architectures must match exactly."""
    try:
        init = load_model(cfg.init_from)
    except FileNotFoundError as err:
        raise SystemExit(f"--init_from={cfg.init_from}: {err}. Train the pixel-loss model first (e.g. "
                         f"python -m train.srresnet --recipe=cpu --name=srresnet_cpu) and pass "
                         f"--init_from=runs/<name>/weights") from None
    want, have = generator.hparams, getattr(init, "hparams", {})
    diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
    if type(init) is not type(generator) or diff:
        raise SystemExit(f"--init_from={cfg.init_from} is a {type(init).__name__} with different settings "
                         f"(checkpoint vs this run): {diff}; set the architecture options to match")
    generator.load_state_dict(init.state_dict())


def run(cfg: TrainConfig) -> dict:
    """Train according to ``cfg``; returns the last validation metrics."""
    if cfg.stage not in ("pixel", "gan"):
        raise SystemExit(f"--stage must be pixel or gan, got {cfg.stage!r}")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device={cfg.device}: no CUDA device here (use --device=cpu or auto)")
    rank, world, device = setup_distributed(cfg.device)
    main_rank = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, cfg.deterministic)
    if device.type == "cuda" and not cfg.deterministic:
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick the fastest convolutions
    run_dir = Path("runs") / cfg.name
    data_root = Path(cfg.data_root) if cfg.data_root else sr_config.data_root()
    state_path = run_dir / "state.pt"
    metrics_path = run_dir / "metrics.jsonl"
    if state_path.is_file() and not cfg.resume and not cfg.overwrite:
        raise SystemExit(f"{state_path} exists: pass --resume to continue that run, --overwrite to start it "
                         f"again, or choose another --name")

    resumed = cfg.resume and state_path.is_file()
    generator = build_preset(cfg.model, **cfg.model_args())
    if cfg.init_from and not resumed:  # a resumed run takes its weights from state.pt
        _load_init(cfg, generator)
    generator.to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    generator.to(memory_format=memory_format)
    # the EMA copy (--ema): validated, exported and shipped instead of the raw weights
    ema = copy.deepcopy(generator).requires_grad_(False) if cfg.ema else None
    shipped = ema if ema is not None else generator
    if cfg.amp not in AMP_DTYPES:
        raise SystemExit(f"--amp must be one of {', '.join(AMP_DTYPES)}, got {cfg.amp!r}")
    autocast = (torch.autocast(device.type, dtype=AMP_DTYPES[cfg.amp]) if AMP_DTYPES[cfg.amp] is not None
                else contextlib.nullcontext())
    opt_g = make_optimizer(cfg, generator, cfg.lr, cfg.tail_lr_mult)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lambda i: lr_factor(cfg, i + cfg.start_iter))
    discriminator = opt_d = sched_d = content = None
    pixel = PixelLoss(cfg.loss).to(device)
    if cfg.stage == "gan":
        discriminator = _discriminator(cfg, generator).to(device)
        discriminator.to(memory_format=memory_format)
        opt_d = make_optimizer(cfg, discriminator, cfg.lr_d or cfg.lr)
        sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda i: lr_factor(cfg, i + cfg.start_iter))
        content = _content_loss(cfg).to(device) if cfg.content_weight else None

    start, elapsed_before = cfg.start_iter, 0.0
    if resumed:
        state = load_state(state_path)
        generator.load_state_dict(state["generator"])
        opt_g.load_state_dict(state["opt_g"])
        sched_g.load_state_dict(state["sched_g"])
        if discriminator is not None:
            if "discriminator" not in state:
                raise SystemExit(f"{state_path} holds no discriminator: it is not a GAN-stage run")
            discriminator.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
            sched_d.load_state_dict(state["sched_d"])
        if ema is not None:
            ema.load_state_dict(state.get("ema", state["generator"]))
        torch.set_rng_state(state["rng"])
        start = int(state["iter"])
        elapsed_before = float(state.get("time", 0.0))
    if main_rank:
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*run_dir.glob(".*.part"), *(run_dir / "weights").glob(".*.part")]:
            stale.unlink(missing_ok=True)  # temp files of a killed checkpoint write
        info = {"config": dataclasses.asdict(cfg), "argv": sys.argv, "world_size": world,
                "generator": {"arch": type(generator).__name__, "hparams": generator.hparams,
                              "parameters": count_parameters(generator)}}
        old = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").is_file() else {}
        if resumed:
            ignore = {"resume", "progress", "overwrite", "device", "workers", "stop_at", "plot"}
            changed = {k: [old.get("config", {}).get(k), v] for k, v in json.loads(json.dumps(info["config"])).items()
                       if k not in ignore and old.get("config", {}).get(k, v) != v}
            info["resumes"] = old.get("resumes", []) + [{"iter": start, "argv": sys.argv, "changed": changed}]
            if changed:
                print(f"warning: resuming {run_dir} with changed settings {changed}", flush=True)
            # drop what was logged after the checkpoint we resume from (and any line torn by a kill)
            rows = [r for r in read_metrics(metrics_path) if r.get("iter", 0) <= start]
            _atomic_write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
            print(f"resumed {run_dir} at iteration {start}", flush=True)
        else:
            if cfg.resume:
                print(f"--resume: no {state_path} yet; starting from scratch", flush=True)
            metrics_path.unlink(missing_ok=True)
        _atomic_write_text(run_dir / "config.json", json.dumps(info, indent=2) + "\n")

    g_train = DDP(generator) if world > 1 else generator
    d_train = DDP(discriminator) if world > 1 and discriminator is not None else discriminator

    dataset = SRTrainSet([data_root / d for d in cfg.train_dirs.split(",")], cfg.crop_size, cfg.scale,
                         cfg.degradation, seed=cfg.seed, blur_sigma=cfg.blur_sigma, mix=cfg.mix or None)
    if cfg.workers:
        _opencv_one_thread()
    loader = DataLoader(dataset, batch_sampler=StepSampler(cfg.batch_size, start, rank, world),
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
                        pin_memory=cfg.pin_memory and device.type == "cuda",
                        prefetch_factor=4 if cfg.workers else None)
    # validation LR is made with the training degradation (bicubic or blur), so PSNR measures the task trained for
    val_pairs = validation_pairs(cfg, data_root) if main_rank else []
    # a mix of clean and real LR: also the clean task, which such a model must not lose
    clean_pairs = (validation_pairs(dataclasses.replace(cfg, degradation="bicubic"), data_root)
                   if main_rank and cfg.degradation in MIXES else [])

    t0 = time.time()

    def checkpoint(it: int) -> None:
        if not main_rank:
            return
        bad = [k for k, v in meter.sums.items() if not math.isfinite(v)]
        if bad:  # never overwrite the last good state.pt with a diverged one
            raise FloatingPointError(f"iteration {it}: non-finite {bad}; state.pt still holds the last finite "
                                     f"checkpoint (iteration <= {it - 1})")
        state = {"iter": it, "generator": generator.state_dict(), "opt_g": opt_g.state_dict(),
                 "sched_g": sched_g.state_dict(), "rng": torch.get_rng_state(),
                 "time": elapsed_before + time.time() - t0}
        if ema is not None:
            state["ema"] = ema.state_dict()
        if discriminator is not None:
            state.update(discriminator=discriminator.state_dict(), opt_d=opt_d.state_dict(),
                         sched_d=sched_d.state_dict())
        save_state(state_path, state)
        export(run_dir / "weights", it)

    def export(folder: Path, it: int) -> None:
        save_pretrained(shipped, folder, half=cfg.half_weights, name=cfg.name, iterations=it, seed=cfg.seed,
                        dataset=cfg.train_dirs, degradation=cfg.degradation, training=dataclasses.asdict(cfg))

    def log(row: dict) -> None:
        if main_rank:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")

    # SIGINT/SIGTERM: finish the iteration, checkpoint, exit (a second signal interrupts at once)
    stop = {"signal": 0}

    def on_signal(signum, frame):
        if stop["signal"]:
            raise KeyboardInterrupt
        stop["signal"] = signum

    handlers = {}
    if hasattr(signal, "SIGTERM"):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                handlers[sig] = signal.signal(sig, on_signal)
            except ValueError:  # not the main thread
                pass

    progress = None
    if main_rank and cfg.progress:
        from tqdm import tqdm

        progress = tqdm(total=cfg.max_iters, initial=start, dynamic_ncols=True)
    say = progress.write if progress is not None else (lambda m: print(m, flush=True) if main_rank else None)
    meter, last, last_log = Meter(), {}, (start, time.time())
    if resumed:
        log({"kind": "resume", "iter": start, "argv": sys.argv})
    g_train.train()
    if d_train is not None:
        d_train.train()
    it = start
    batches = iter(loader)
    if main_rank:
        say(f"{cfg.model}: {count_parameters(generator):,} parameters, {world} process(es), device {device}, "
            f"iterations {start} -> {cfg.max_iters}")
    while it < cfg.max_iters:
        lr_img, hr_img = next(batches)
        lr_img = lr_img.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        hr_img = hr_img.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        target = usm_sharp(hr_img) if cfg.usm_hr else hr_img
        if cfg.stage == "gan":
            with autocast:
                values = gan_step(g_train, d_train, lr_img, hr_img, opt_g, opt_d, content_loss=content,
                                  pixel_loss=pixel, adv_weight=cfg.adv_weight, content_weight=cfg.content_weight,
                                  pixel_weight=cfg.pixel_weight, tv_weight=cfg.tv_weight, target=target)
            sched_d.step()
        else:
            with autocast:
                values = pixel_step(g_train, lr_img, target, opt_g, pixel)
        sched_g.step()
        it += 1
        if ema is not None:
            update_ema(ema, generator, cfg.ema, it - cfg.start_iter)
        meter.update(values)
        if progress is not None:
            progress.update(1)
        if it % cfg.log_every == 0 or it == cfg.max_iters:
            means = meter.means()
            if world > 1:  # average the running means over the ranks (every rank logs at the same iterations)
                vec = torch.tensor(list(means.values()), dtype=torch.float64)
                dist.all_reduce(vec)
                means = dict(zip(means, (vec / world).tolist()))
            bad = [k for k, v in means.items() if not math.isfinite(v)]
            if bad:  # stop before checkpointing a diverged state: --resume restarts from the last good one
                raise FloatingPointError(f"iteration {it}: non-finite {bad}; state.pt still holds the last "
                                         f"finite checkpoint")
            now = time.time()
            log({"kind": "train", "iter": it, "lr": sched_g.get_last_lr()[0],
                 "time": round(elapsed_before + now - t0, 3),
                 "it_per_s": round((it - last_log[0]) / max(now - last_log[1], 1e-9), 4), **means})
            last_log = (it, now)
            if progress is not None:
                shown = {k: f"{v:.4g}" for k, v in means.items() if k in ("loss", "loss_g", "loss_d", "d_fake")}
                progress.set_postfix(shown, lr=f"{sched_g.get_last_lr()[0]:.2e}")
            meter.reset()
        if world > 1:  # a signal seen by any rank stops them all at the same iteration
            flag = torch.tensor([stop["signal"]])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop["signal"] = int(flag.item())
        pause = bool(cfg.stop_at) and it >= cfg.stop_at and it < cfg.max_iters
        over = False
        if cfg.time_limit and it < cfg.max_iters and not pause:
            over = time.time() - t0 >= cfg.time_limit
            if world > 1:
                flag = torch.tensor([int(over)])
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                over = bool(flag.item())
            pause = over
        if it % cfg.ckpt_every == 0 or it == cfg.max_iters or stop["signal"] or pause:
            checkpoint(it)
        if stop["signal"] or pause:
            why = f"signal {stop['signal']}" if stop["signal"] else ("--time_limit" if over else "--stop_at")
            say(f"stopped by {why} at iteration {it} of {cfg.max_iters}; checkpoint written, --resume continues")
            break
        if main_rank and (it % cfg.val_every == 0 or it == cfg.max_iters):
            last = evaluate(shipped, val_pairs, cfg.scale)
            row = {"kind": "val", "iter": it, "set": cfg.val_set, "degradation": cfg.degradation,
                   "psnr": last["psnr"], "ssim": last["ssim"]}
            clean = evaluate(shipped, clean_pairs, cfg.scale) if clean_pairs else None
            if clean:
                row.update(clean_psnr=clean["psnr"], clean_ssim=clean["ssim"])
            log(row)
            save_grid(shipped, val_pairs[:3], run_dir / "grids" / f"{it:07d}.png", cfg.scale)
            if cfg.snapshots:
                export(run_dir / "snapshots" / f"{it:07d}", it)
            say(f"iter {it}: {cfg.val_set} PSNR {last['psnr']:.3f} dB, SSIM {last['ssim']:.4f}"
                + (f"; clean {clean['psnr']:.3f} dB, SSIM {clean['ssim']:.4f}" if clean else ""))
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    in_sync = replicas_in_sync(generator) and (discriminator is None or replicas_in_sync(discriminator))
    if world > 1:
        log({"kind": "sync", "iter": it, "in_sync": in_sync, "world_size": world})
    if progress is not None:
        progress.close()
    if main_rank and cfg.plot and metrics_path.exists():
        plot_curves(run_dir)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if stop["signal"]:
        raise SystemExit(128 + stop["signal"])
    return {k: last[k] for k in ("psnr", "ssim") if k in last}


def main(cfg, recipes: dict[str, dict] | None = None, argv: list[str] | None = None) -> dict:
    """Apply ``--recipe=NAME`` (a dict of overrides from the experiment module), then ``--key=value``.

    If the config class has a ``resolve(explicit)`` method it is called last, with the set of keys
    that the recipe, the command line or ``--tiny`` set, to fill in defaults that depend on other
    options (e.g. Swift-SRGAN's per-stage settings).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    recipes = recipes or {}
    explicit = explicit_keys(argv) - {"recipe"}
    for arg in [a for a in argv if a.startswith("--recipe=")]:
        name = arg.split("=", 1)[1]
        if name not in recipes:
            raise SystemExit(f"unknown recipe {name!r}; known: {', '.join(recipes) or 'none'}")
        for key, value in recipes[name].items():
            setattr(cfg, key, value)
        explicit |= set(recipes[name])
        argv.remove(arg)
    cfg = parse_overrides(cfg, argv)
    if cfg.tiny:
        explicit |= set(TINY)
    if hasattr(cfg, "resolve"):
        cfg.resolve(explicit)
    return run(cfg)
