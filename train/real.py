"""``real-psnr`` and ``real``: the ``fast`` network trained for real photos (Real-ESRGAN's recipe, scaled to a CPU).

    python -m train.real --recipe=psnr --train_dirs=sr_train,DEST     # real-psnr: L1 on the mixed degradation
    python -m train.real --recipe=gan --train_dirs=sr_train,DEST      # real: GAN fine-tuning of weights/real-psnr
    python -m train.real --recipe=psnr --name=real_psnr --resume      # continue after a kill
    python -m train.real --recipe=cpu-gan --train_dirs=sr_train,DEST  # the GAN stage between GPU leases

What ships came from two GPU leases (``train/lease.sh``; the model cards give the commands): ``--recipe=gpu-psnr``
(1,653 iterations, every sample degraded by the full ``real`` model, no clean share: the real-photos issue
dropped the clean-image guard) and ``--recipe=gpu-gan`` (2,770 iterations in two stretches). Between leases
``--recipe=cpu-gan`` continues the GAN on 2 CPU threads from ``train/checkpoints/real-gan-cpu`` (its README says
where it stands and why it is not shipped yet); ``--recipe=cpu-gan-mesh`` is its branch with a loss on the 4-px
mesh (``train/checkpoints/real-gan-mesh``). The older CPU recipes below (``psnr``, ``gan``) made the
previous, mix-trained pair.

(``DEST``: ``bash train/fetch_wallpapers.sh DEST``.) LR patches come from ``sr_core.degradations``'
second-order model, drawn in one loader worker (about a tenth of a training step,
``python -m benchmarks.degradations``). ``--degradation=real-mix`` (the default) draws per sample plain
bicubic (30 %), ``real-mild`` (30 %) or ``real`` (40 %, Real-ESRGAN's defaults): trained on ``real`` alone,
real-psnr fell from fast's 30.87 dB to 26.69 dB on clean Set5 (below bicubic's 28.43), smoothing away detail
that was never noise. ``--mix=bicubic:0.5,real-mild:0.2,real:0.3`` sets other shares; such runs validate on
clean Set5 as well (``clean_psnr`` in ``metrics.jsonl``). Validation is Set5 degraded by ``real`` with fixed seeds
(``train.loop.validation_pairs``); BSD100 is the test set (``python -m benchmarks.real``).

* ``psnr`` (Real-ESRNet): starts from the shipped ``weights/fast`` (bicubic-trained, same architecture), L1,
  Adam (0.9, 0.99), lr 2e-4 with cosine decay, 192 px HR crops, batch 16, EMA 0.999. The HR target is not
  sharpened: this stage is judged by PSNR against the true HR.
* ``gan`` (Real-ESRGAN): starts from ``weights/real-psnr``; the U-Net discriminator with spectral
  normalisation (``sr_core.nets.UNetDiscriminatorSN``, per-pixel logits) at 32 channels (Real-ESRGAN: 64;
  halved for the CPU, a quarter of the cost); generator loss 1 x L1 + 4 x perceptual (EfficientNet-Lite0
  stride-16 features / 32, offline) + 0.03 x adversarial; L1 and perceptual against the unsharp-masked HR
  (``--usm_hr``, Real-ESRGAN's ``l1_gt_usm``/``percep_gt_usm``), the discriminator sees the plain HR;
  constant lr 1e-4 for both, 128 px HR crops, batch 8, EMA 0.999. The shipped ``real`` ended at 0.1 x
  adversarial (``--adv_weight=0.1``): at 0.03 its outputs stayed smoother than the real-world peer's by NIQE.

  The weights keep Real-ESRGAN's ordering of the terms' sizes rather than its numbers, which belong to VGG
  features: there the perceptual term is about 30x the adversarial one and L1 about half of it. Measured at
  the start of a run (``metrics.jsonl``): L1 ~0.085 (against the sharpened HR), EfficientNet content ~0.044,
  BCE ~0.69, so 4 x content ~0.18 and 0.03 x BCE ~0.02.
"""

from dataclasses import dataclass

from .loop import main
from .fast import FastConfig


@dataclass
class RealConfig(FastConfig):
    """``train.fast``'s recipe (L1, Adam (0.9, 0.99), cosine, 192 px crops, batch 16, EMA), on real photos."""
    name: str = "real_psnr"
    model: str = "real-psnr"
    degradation: str = "real-mix"
    lr: float = 2e-4
    init_from: str = "fast"


RECIPES = {
    # real-psnr on 2 CPU threads: fine-tune the shipped fast weights on the real degradations
    "psnr": dict(max_iters=3000, val_every=250, ckpt_every=250, threads=2),
    # real: GAN stage from real-psnr
    "gan": dict(name="real_gan", model="real", stage="gan", init_from="real-psnr", discriminator="unet",
                d_features=32, lr=1e-4, schedule="constant", pixel_weight=1.0, content_weight=4.0,
                adv_weight=0.03, usm_hr=True, crop_size=128, batch_size=8, max_iters=2000, val_every=250,
                ckpt_every=100, threads=2, snapshots=True),
    # a GPU lease (train.sprint --trainer real; train/lease.sh): Real-ESRGAN's setting, all samples degraded by
    # the full second-order model (JPEG in both orders), 256 px crops, bf16, the degradation in 11 loader workers
    "gpu-psnr": dict(name="real_psnr_gpu", init_from="real-psnr", degradation="real", crop_size=256,
                     batch_size=48, amp="bf16", workers=11, threads=2, device="cuda", max_iters=200_000,
                     val_every=500, ckpt_every=500),
    "gpu-gan": dict(name="real_gan_gpu", model="real", stage="gan", init_from="real-psnr", degradation="real",
                    discriminator="unet", d_features=64, lr=1e-4, schedule="constant", pixel_weight=1.0,
                    content_weight=4.0, adv_weight=0.1, usm_hr=True, crop_size=256, batch_size=32, amp="bf16",
                    workers=11, threads=2, device="cuda", max_iters=200_000, val_every=500, ckpt_every=500,
                    snapshots=True),
    # continue the GAN stage between GPU leases, on 2 CPU threads: from where the last session left it
    # (train/checkpoints/real-gan-cpu, its README; a fresh discriminator, whose state is not kept in git), the
    # lease's losses and degradation at CPU size (128 px, batch 8); --resume after a kill, stop any time
    # (checkpoints every 250 iterations, snapshots for choosing with benchmarks.real_photos --split train).
    # Its content loss is Real-ESRGAN's multi-depth perceptual loss on EfficientNet-Lite0 (strides 2/4/8/16): the
    # lease's stride-16 loss let the GAN draw a 4-px mesh on smooth areas. 0.015 x (~11 on SR vs HR) ~ 4 x 0.044.
    # On a CPU without native bfloat16 (AVX2 only) the loop trains in float32, where the 64-channel
    # discriminator makes a step ~10 s: --d_features=32 there (the discriminator starts fresh anyway).
    "cpu-gan": dict(name="real_gan_cpu", model="real", stage="gan", init_from="train/checkpoints/real-gan-cpu",
                    degradation="real",
                    discriminator="unet", d_features=64, lr=1e-4, schedule="constant", pixel_weight=1.0,
                    content_backbone="efficientnet_lite0_multi", content_weight=0.015, adv_weight=0.1,
                    usm_hr=True, crop_size=128, batch_size=8, amp="bf16",
                    workers=1, threads=2, max_iters=200_000, val_every=500, ckpt_every=250, snapshots=True),
}
# the CPU GAN stage with a loss on the mesh itself (sr_core.losses.mesh_loss): the stride-16 content loss of
# the stage's first 3,520 iterations kept texture but drew a 4-px mesh, the multi-depth loss since then
# halved the mesh and blurred the texture; this keeps the first and penalises the pattern that SR - HR
# repeats on every input pixel, window by window (1000 x ~1.2e-4 ~ the L1 pixel term, ~0.08, on training crops)
RECIPES["cpu-gan-mesh"] = dict(RECIPES["cpu-gan"], name="real_gan_mesh", init_from="train/checkpoints/real-gan-mesh",
                               content_backbone="efficientnet_lite0", content_weight=4.0, mesh_weight=1000.0,
                               val_every=250)

if __name__ == "__main__":
    main(RealConfig(), RECIPES)
