"""The training loop shared by every SR experiment: ``run(cfg)``, read top to bottom like ``sr_core/training.py``.

Each experiment module (``train/srresnet.py``, ``train/srgan.py``, ...) defines
a dataclass of defaults (``train.config.TrainConfig``) and calls :func:`main`. A run lives in
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
import math
import signal
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from sr_core import config as sr_config
from sr_core.checkpoint import load_model, save_pretrained
from sr_core.data import MIXES, SRTrainSet, StepSampler, load_eval_set
from sr_core.degradations import usm_sharp
from sr_core.inference import has_fast_bfloat16
from sr_core.losses import ContentLoss, PixelLoss, WeightsUnavailableError
from sr_core.metrics import evaluate
from sr_core.nets import SRGANDiscriminator, UNetDiscriminatorSN, build_preset, count_parameters
from sr_core.training import (Meter, gan_step, load_state, pixel_step, replicas_in_sync, save_state,
                              seed_everything, setup_distributed)

from .config import CONTENT_SCALES, TINY_DISCRIMINATOR, TrainConfig, configure
from .records import append_row, plot_curves, save_grid, start_records


AMP_DTYPES = {"none": None, "bf16": torch.bfloat16}


def resolve_amp(cfg: TrainConfig, device: torch.device, native_bf16: bool | None = None) -> TrainConfig:
    """``cfg`` with ``--amp=bf16`` turned off (and a warning) on a CPU without native bfloat16 (AMX or AVX512-BF16).

    There oneDNN emulates bfloat16: on a 2-core AMD EPYC with AVX2 only, the first step of ``train.real
    --recipe=cpu-gan`` took 270 s under bfloat16 autocast against 42 s in float32. Recipes ask for bf16 because
    it pays on the CPUs that have it (1.5x per ``fast`` step on an EPYC with AVX512-BF16).
    """
    if cfg.amp != "bf16" or device.type != "cpu":
        return cfg
    if native_bf16 if native_bf16 is not None else has_fast_bfloat16():
        return cfg
    print("--amp=bf16: this CPU has no native bfloat16 (AMX or AVX512-BF16), where it is emulated and several "
          "times slower; training in float32 (--amp=none)", file=sys.stderr, flush=True)
    return dataclasses.replace(cfg, amp="none")


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


@dataclass
class Nets:
    """The generator (and its EMA copy), the discriminator of a GAN stage, their optimisers, schedules and losses."""
    generator: torch.nn.Module
    opt_g: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LambdaLR
    pixel: torch.nn.Module
    ema: torch.nn.Module | None = None
    discriminator: torch.nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    sched_d: torch.optim.lr_scheduler.LambdaLR | None = None
    content: torch.nn.Module | None = None

    @property
    def shipped(self) -> torch.nn.Module:
        """What is validated, exported and shipped: the EMA copy (``--ema``), else the generator."""
        return self.ema if self.ema is not None else self.generator


def build_nets(cfg: TrainConfig, device: torch.device, memory_format, resumed: bool) -> Nets:
    generator = build_preset(cfg.model, **cfg.model_args())
    if cfg.init_from and not resumed:  # a resumed run takes its weights from state.pt
        _load_init(cfg, generator)
    generator.to(device)
    generator.to(memory_format=memory_format)
    ema = copy.deepcopy(generator).requires_grad_(False) if cfg.ema else None
    opt_g = make_optimizer(cfg, generator, cfg.lr, cfg.tail_lr_mult)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lambda i: lr_factor(cfg, i + cfg.start_iter))
    nets = Nets(generator, opt_g, sched_g, PixelLoss(cfg.loss).to(device), ema=ema)
    if cfg.stage == "gan":
        nets.discriminator = _discriminator(cfg, generator).to(device)
        nets.discriminator.to(memory_format=memory_format)
        nets.opt_d = make_optimizer(cfg, nets.discriminator, cfg.lr_d or cfg.lr)
        nets.sched_d = torch.optim.lr_scheduler.LambdaLR(nets.opt_d, lambda i: lr_factor(cfg, i + cfg.start_iter))
        nets.content = _content_loss(cfg).to(device) if cfg.content_weight else None
    return nets


def training_state(nets: Nets, it: int, seconds: float) -> dict:
    """What ``state.pt`` holds (its keys are what ``--resume`` reads, in every run folder written so far)."""
    state = {"iter": it, "generator": nets.generator.state_dict(), "opt_g": nets.opt_g.state_dict(),
             "sched_g": nets.sched_g.state_dict(), "rng": torch.get_rng_state(), "time": seconds}
    if nets.ema is not None:
        state["ema"] = nets.ema.state_dict()
    if nets.discriminator is not None:
        state.update(discriminator=nets.discriminator.state_dict(), opt_d=nets.opt_d.state_dict(),
                     sched_d=nets.sched_d.state_dict())
    return state


def restore(nets: Nets, state_path: Path) -> tuple[int, float]:
    """Load ``state.pt`` into ``nets`` and the torch RNG; returns the iteration and the seconds trained so far."""
    state = load_state(state_path)
    nets.generator.load_state_dict(state["generator"])
    nets.opt_g.load_state_dict(state["opt_g"])
    nets.sched_g.load_state_dict(state["sched_g"])
    if nets.discriminator is not None:
        if "discriminator" not in state:
            raise SystemExit(f"{state_path} holds no discriminator: it is not a GAN-stage run")
        nets.discriminator.load_state_dict(state["discriminator"])
        nets.opt_d.load_state_dict(state["opt_d"])
        nets.sched_d.load_state_dict(state["sched_d"])
    if nets.ema is not None:
        nets.ema.load_state_dict(state.get("ema", state["generator"]))
    torch.set_rng_state(state["rng"])
    return int(state["iter"]), float(state.get("time", 0.0))


def export(cfg: TrainConfig, nets: Nets, folder: Path, it: int) -> None:
    save_pretrained(nets.shipped, folder, half=cfg.half_weights, name=cfg.name, iterations=it, seed=cfg.seed,
                    dataset=cfg.train_dirs, degradation=cfg.degradation, training=dataclasses.asdict(cfg))


def checkpoint(cfg: TrainConfig, nets: Nets, meter: Meter, it: int, seconds: float, run_dir: Path) -> None:
    """``state.pt`` (written whole or not at all) and ``weights/``; refuses to overwrite them with a diverged state."""
    bad = [k for k, v in meter.sums.items() if not math.isfinite(v)]
    if bad:  # never overwrite the last good state.pt with a diverged one
        raise FloatingPointError(f"iteration {it}: non-finite {bad}; state.pt still holds the last finite "
                                 f"checkpoint (iteration <= {it - 1})")
    save_state(run_dir / "state.pt", training_state(nets, it, seconds))
    export(cfg, nets, run_dir / "weights", it)


def make_loader(cfg: TrainConfig, data_root: Path, start: int, rank: int, world: int, device: torch.device):
    dataset = SRTrainSet([data_root / d for d in cfg.train_dirs.split(",")], cfg.crop_size, cfg.scale,
                         cfg.degradation, seed=cfg.seed, blur_sigma=cfg.blur_sigma, mix=cfg.mix or None)
    if cfg.workers:
        _opencv_one_thread()
    return DataLoader(dataset, batch_sampler=StepSampler(cfg.batch_size, start, rank, world),
                      num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
                      pin_memory=cfg.pin_memory and device.type == "cuda",
                      prefetch_factor=4 if cfg.workers else None)


def train_step(cfg: TrainConfig, nets: Nets, g_train, d_train, batch, device, memory_format, autocast) -> dict:
    """One iteration of the pixel or the GAN stage (``sr_core.training``) and the lr schedules' step."""
    lr_img, hr_img = (x.to(device, non_blocking=True).contiguous(memory_format=memory_format) for x in batch)
    target = usm_sharp(hr_img) if cfg.usm_hr else hr_img
    if cfg.stage == "gan":
        with autocast:
            values = gan_step(g_train, d_train, lr_img, hr_img, nets.opt_g, nets.opt_d, content_loss=nets.content,
                              pixel_loss=nets.pixel, adv_weight=cfg.adv_weight, content_weight=cfg.content_weight,
                              pixel_weight=cfg.pixel_weight, tv_weight=cfg.tv_weight, target=target,
                              mesh_weight=cfg.mesh_weight)
        nets.sched_d.step()
    else:
        with autocast:
            values = pixel_step(g_train, lr_img, target, nets.opt_g, nets.pixel)
    nets.sched_g.step()
    return values


def rank_max(value: int, world: int) -> int:
    """The largest ``value`` over the ranks (the value itself outside torchrun)."""
    if world == 1:
        return value
    flag = torch.tensor([value])
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item())


def train_row(meter: Meter, it: int, world: int, lr: float, seconds: float, it_per_s: float) -> dict:
    """The ``train`` row of ``metrics.jsonl``: running means since the last row, averaged over the ranks."""
    means = meter.means()
    if world > 1:  # average the running means over the ranks (every rank logs at the same iterations)
        vec = torch.tensor(list(means.values()), dtype=torch.float64)
        dist.all_reduce(vec)
        means = dict(zip(means, (vec / world).tolist()))
    bad = [k for k, v in means.items() if not math.isfinite(v)]
    if bad:  # stop before checkpointing a diverged state: --resume restarts from the last good one
        raise FloatingPointError(f"iteration {it}: non-finite {bad}; state.pt still holds the last "
                                 f"finite checkpoint")
    return {"kind": "train", "iter": it, "lr": lr, "time": round(seconds, 3), "it_per_s": round(it_per_s, 4), **means}


def validate(cfg: TrainConfig, nets: Nets, val_pairs, clean_pairs, it: int, run_dir: Path, log, say) -> dict:
    """PSNR/SSIM on the validation pairs (and the clean ones of a mix), a ``val`` row, a grid, a snapshot."""
    last = evaluate(nets.shipped, val_pairs, cfg.scale)
    row = {"kind": "val", "iter": it, "set": cfg.val_set, "degradation": cfg.degradation,
           "psnr": last["psnr"], "ssim": last["ssim"]}
    clean = evaluate(nets.shipped, clean_pairs, cfg.scale) if clean_pairs else None
    if clean:
        row.update(clean_psnr=clean["psnr"], clean_ssim=clean["ssim"])
    log(row)
    save_grid(nets.shipped, val_pairs[:3], run_dir / "grids" / f"{it:07d}.png", cfg.scale)
    if cfg.snapshots:
        export(cfg, nets, run_dir / "snapshots" / f"{it:07d}", it)
    say(f"iter {it}: {cfg.val_set} PSNR {last['psnr']:.3f} dB, SSIM {last['ssim']:.4f}"
        + (f"; clean {clean['psnr']:.3f} dB, SSIM {clean['ssim']:.4f}" if clean else ""))
    return last


class StopSignals:
    """SIGINT/SIGTERM: finish the iteration, checkpoint, exit (a second signal interrupts at once)."""

    def __init__(self):
        self.signal, self._handlers = 0, {}

    def __enter__(self) -> "StopSignals":
        if hasattr(signal, "SIGTERM"):
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._handlers[sig] = signal.signal(sig, self._on_signal)
                except ValueError:  # not the main thread
                    pass
        return self

    def _on_signal(self, signum, frame):
        if self.signal:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)


def _check(cfg: TrainConfig) -> None:
    if cfg.stage not in ("pixel", "gan"):
        raise SystemExit(f"--stage must be pixel or gan, got {cfg.stage!r}")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device={cfg.device}: no CUDA device here (use --device=cpu or auto)")
    if cfg.amp not in AMP_DTYPES:
        raise SystemExit(f"--amp must be one of {', '.join(AMP_DTYPES)}, got {cfg.amp!r}")
    state_path = Path("runs") / cfg.name / "state.pt"
    if state_path.is_file() and not cfg.resume and not cfg.overwrite:
        raise SystemExit(f"{state_path} exists: pass --resume to continue that run, --overwrite to start it "
                         f"again, or choose another --name")


def run(cfg: TrainConfig) -> dict:
    """Train according to ``cfg``; returns the last validation metrics."""
    _check(cfg)
    rank, world, device = setup_distributed(cfg.device)
    cfg = resolve_amp(cfg, device)
    main_rank = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, cfg.deterministic)
    if device.type == "cuda" and not cfg.deterministic:
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick the fastest convolutions
    run_dir = Path("runs") / cfg.name
    data_root = Path(cfg.data_root) if cfg.data_root else sr_config.data_root()
    metrics_path = run_dir / "metrics.jsonl"
    resumed = cfg.resume and (run_dir / "state.pt").is_file()
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    nets = build_nets(cfg, device, memory_format, resumed)
    autocast = (torch.autocast(device.type, dtype=AMP_DTYPES[cfg.amp]) if AMP_DTYPES[cfg.amp] is not None
                else contextlib.nullcontext())
    start, elapsed_before = restore(nets, run_dir / "state.pt") if resumed else (cfg.start_iter, 0.0)
    if main_rank:
        start_records(cfg, run_dir, nets.generator, world, resumed, start)
    g_train = DDP(nets.generator) if world > 1 else nets.generator
    d_train = DDP(nets.discriminator) if world > 1 and nets.discriminator is not None else nets.discriminator
    loader = make_loader(cfg, data_root, start, rank, world, device)
    # validation LR is made with the training degradation (bicubic or blur), so PSNR measures the task trained for
    val_pairs = validation_pairs(cfg, data_root) if main_rank else []
    # a mix of clean and real LR: also the clean task, which such a model must not lose
    clean_pairs = (validation_pairs(dataclasses.replace(cfg, degradation="bicubic"), data_root)
                   if main_rank and cfg.degradation in MIXES else [])
    t0 = time.time()
    log = partial(append_row, metrics_path) if main_rank else (lambda row: None)
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
        say(f"{cfg.model}: {count_parameters(nets.generator):,} parameters, {world} process(es), device {device}, "
            f"iterations {start} -> {cfg.max_iters}")
    with StopSignals() as stop:
        while it < cfg.max_iters:
            values = train_step(cfg, nets, g_train, d_train, next(batches), device, memory_format, autocast)
            it += 1
            if nets.ema is not None:
                update_ema(nets.ema, nets.generator, cfg.ema, it - cfg.start_iter)
            meter.update(values)
            if progress is not None:
                progress.update(1)
            if it % cfg.log_every == 0 or it == cfg.max_iters:
                now = time.time()
                lr = nets.sched_g.get_last_lr()[0]
                row = train_row(meter, it, world, lr, elapsed_before + now - t0,
                                (it - last_log[0]) / max(now - last_log[1], 1e-9))
                log(row)
                last_log = (it, now)
                if progress is not None:
                    shown = {k: f"{v:.4g}" for k, v in row.items() if k in ("loss", "loss_g", "loss_d", "d_fake")}
                    progress.set_postfix(shown, lr=f"{lr:.2e}")
                meter.reset()
            stop.signal = rank_max(stop.signal, world)  # a signal seen by any rank stops them all at once
            pause = bool(cfg.stop_at) and it >= cfg.stop_at and it < cfg.max_iters
            over = False
            if cfg.time_limit and it < cfg.max_iters and not pause:
                over = pause = bool(rank_max(int(time.time() - t0 >= cfg.time_limit), world))
            if it % cfg.ckpt_every == 0 or it == cfg.max_iters or stop.signal or pause:
                if main_rank:
                    checkpoint(cfg, nets, meter, it, elapsed_before + time.time() - t0, run_dir)
            if stop.signal or pause:
                why = f"signal {stop.signal}" if stop.signal else ("--time_limit" if over else "--stop_at")
                say(f"stopped by {why} at iteration {it} of {cfg.max_iters}; checkpoint written, --resume continues")
                break
            if main_rank and (it % cfg.val_every == 0 or it == cfg.max_iters):
                last = validate(cfg, nets, val_pairs, clean_pairs, it, run_dir, log, say)
    in_sync = replicas_in_sync(nets.generator) and (nets.discriminator is None or replicas_in_sync(nets.discriminator))
    if world > 1:
        log({"kind": "sync", "iter": it, "in_sync": in_sync, "world_size": world})
    if progress is not None:
        progress.close()
    if main_rank and cfg.plot and metrics_path.exists():
        plot_curves(run_dir)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if stop.signal:
        raise SystemExit(128 + stop.signal)
    return {k: last[k] for k in ("psnr", "ssim") if k in last}


def main(cfg: TrainConfig, recipes: dict[str, dict] | None = None, argv: list[str] | None = None) -> dict:
    """``--recipe=NAME`` and ``--key=value`` (``train.config.configure``), then :func:`run`."""
    return run(configure(cfg, recipes, argv))
