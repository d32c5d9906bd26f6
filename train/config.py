"""The configuration of a training run: ``TrainConfig`` (every option, with the SRResNet recipe's defaults), the
``--key=value`` parser and the recipes (named sets of overrides that each experiment module defines).

``config.json`` of a run holds ``dataclasses.asdict(TrainConfig)``; ``--resume`` compares it field by field, so
the fields stay flat and keep their names.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

from sr_core import nets as sr_nets


@dataclass
class TrainConfig:
    """Defaults are the SRResNet recipe of Ledig et al. 2017; experiments override them."""
    name: str = "srresnet"                 # run folder: runs/<name>
    model: str = "srresnet"                # preset of sr_core.nets.NET_PRESETS for the generator
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
    mesh_weight: float = 0.0               # GAN stage: weight of sr_core.losses.mesh_loss, the pattern SR - target
                                           # repeats on every input pixel (the GAN's 4-px mesh)

    def model_args(self) -> dict:
        args = {"scale": self.scale}
        if sr_nets.NET_PRESETS.get(self.model, ("",))[0] == "fastsr":
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
CONTENT_SCALES: dict[str, float | None] = {"vgg19": None, "efficientnet_lite0": 1 / 32, "efficientnet_lite0_multi": 1.0,
                                           "mobilenet_v2": None}

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


def configure(cfg, recipes: dict[str, dict] | None = None, argv: list[str] | None = None):
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
    return cfg
