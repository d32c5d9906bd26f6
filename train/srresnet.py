"""SRResNet: pixel-loss training from scratch (Ledig et al. 2017, section 3.2).

    python -m train.srresnet                      # the paper's recipe (MSE, Adam 1e-4, 96 px, batch 16, BatchNorm)
    python -m train.srresnet --recipe=cpu         # the recipe of the shipped weights (see weights/srresnet/README.md)
    python -m train.srresnet --recipe=cpu --resume
"""

from dataclasses import dataclass

from .config import TrainConfig
from .loop import main


@dataclass
class SRResNetConfig(TrainConfig):
    name: str = "srresnet"
    model: str = "srresnet"


RECIPES = {
    "paper": {},
    # What ships: no BatchNorm and a bicubic global skip (BasicSR's MSRResNet idea), L1, a higher
    # learning rate with cosine decay and 64 px crops, which converge far faster on 2 CPU cores.
    "cpu": dict(norm="none", global_skip="bicubic", loss="l1", lr=2e-4, schedule="cosine", crop_size=64,
                max_iters=40_000, workers=1, half_weights=True),
}

if __name__ == "__main__":
    main(SRResNetConfig(), RECIPES)
