"""SRCNN (Dong et al. 2014, 2016): three convolutions on the bicubic-upsampled image, trained with MSE.

    python -m train.srcnn                   # the paper's recipe (SGD, 1e-4 / 1e-5 on the last layer, 91 images)
    python -m train.srcnn --recipe=cpu      # residual SRCNN with Adam: converges in minutes on a CPU
    python -m train.srcnn --recipe=cpu --resume

The network (``sr_core.nets.SRCNN``) takes the LR image and does the bicubic
upsampling itself, so the loss compares ``SRCNN(bicubic(LR))`` with HR, as
in the paper. Differences from the paper, all deliberate: RGB instead of the Y
channel and 'same' padding instead of valid convolutions (so the model fits
the project's RGB [0, 1] contract and tiled inference), PyTorch's default
weight initialisation instead of N(0, 0.001^2), and the bicubic is
PyTorch's (a = -0.75) inside the network, the LR Pillow's (as everywhere here).

Paper recipe (the defaults): 9-5-5 with 64/32 filters, MSE, SGD with momentum
0.9, lr 1e-4 for the first two layers and 1e-5 for the last
(``tail_lr_mult=0.1``), HR sub-images of 33 px rounded to 32 (a multiple of
the scale), batch 128 (the authors' Caffe setting), the 91 training images
(``sr_train/T91``). The paper runs ~10^8 back-propagations; that is far
beyond a CPU, hence:

``--recipe=cpu``: ``residual=True`` (the network predicts the correction to
the bicubic image, VDSR's trick: it starts at bicubic quality instead of
from zero), Adam lr 5e-4 with cosine decay to 1e-6 over 4,000 iterations,
batch 16 of 64 px crops from all of ``sr_train``, one data worker, one thread.
"""

from dataclasses import dataclass

from .config import TrainConfig
from .loop import main


@dataclass
class SRCNNConfig(TrainConfig):
    name: str = "srcnn"
    model: str = "srcnn"
    residual: bool = False
    loss: str = "mse"
    optimizer: str = "sgd"
    momentum: float = 0.9
    lr: float = 1e-4
    tail_lr_mult: float = 0.1
    crop_size: int = 32
    batch_size: int = 128
    train_dirs: str = "sr_train/T91"
    schedule: str = "constant"
    max_iters: int = 1_000_000


RECIPES = {
    "paper": {},
    "cpu": dict(name="srcnn_cpu", residual=True, optimizer="adam", tail_lr_mult=1.0, lr=5e-4, schedule="cosine",
                crop_size=64, batch_size=16, train_dirs="sr_train", max_iters=4000, workers=1, threads=1,
                log_every=100, val_every=500, ckpt_every=250),
}

if __name__ == "__main__":
    main(SRCNNConfig(), RECIPES)
