"""``fast``: the project's CPU-first network (``sr_core/nets/fast.py``), pixel-loss (L1) training.

    python -m train.fast --recipe=cpu --train_dirs=sr_train,/abs/path/to/wallpapers   # what ships (weights/fast)
    python -m train.fast --recipe=cpu --name=fast --resume                           # continue after a kill
    python -m train.fast --recipe=cpu --init_from=weights/fast --start_iter=N --restart_at=N --max_iters=M
                                                                                     # continue the shipped weights

The recipe: L1, Adam (0.9, 0.99), lr 5e-4 with cosine decay, 48 px LR patches (192 px HR), batch 16, and an
exponential moving average of the weights (decay 0.999) that is validated and shipped. Validation on Set5 only;
BSD100 is a test set (``python -m benchmarks.quality``). Extra photographs: ``bash train/fetch_wallpapers.sh DEST``
then ``--train_dirs=sr_train,DEST`` (an absolute path is used as given).

On a CPU with AMX (Intel Sapphire Rapids and later), ``--amp=bf16`` (bfloat16 autocast of the forward pass,
float32 weights and Adam) makes a training step 1.9-2.2x faster (``python -m benchmarks.precision``); the
shipped weights' later iterations ran that way.

On a GPU (``--device=cuda --amp=bf16 --batch_size=64``) the same loop runs with bf16 autocast, channels-last and
a pinned-memory loader; ``python -m train.sprint`` packs the photographs and runs it for a fixed time.
"""

from dataclasses import dataclass

from .config import TrainConfig
from .loop import main


@dataclass
class FastConfig(TrainConfig):
    name: str = "fast"
    model: str = "fast"
    norm: str = ""            # FastSR has no normalisation layers
    loss: str = "l1"
    lr: float = 5e-4
    betas: tuple = (0.9, 0.99)
    schedule: str = "cosine"
    crop_size: int = 192
    batch_size: int = 16
    ema: float = 0.999
    half_weights: bool = True
    workers: int = 1


RECIPES = {
    # what ships: 2 CPU threads, the photographs of sr_train (+ the Debian wallpaper photographs)
    "cpu": dict(max_iters=60_000, val_every=500, ckpt_every=250, threads=2),
    # a short GPU lease (train.sprint): large batches, bf16
    "gpu": dict(max_iters=200_000, batch_size=64, amp="bf16", workers=6, val_every=1000, ckpt_every=1000,
                device="cuda"),
}

if __name__ == "__main__":
    main(FastConfig(), RECIPES)
