"""Training building blocks: seeding, distributed set-up, the two training steps, state files (evaluation:
``sr_core.metrics.evaluate``).

The loop itself lives in ``train/loop.py``; what is here is plain functions
that the loop (and the tests) call. Iterations are counted, not epochs.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .io import atomic_write
from .losses import GANLoss, mesh_loss, tv_loss

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def setup_distributed(device: str = "auto") -> tuple[int, int, torch.device]:
    """Join the process group when started by ``torchrun`` (gloo on CPU, nccl on CUDA).

    Returns ``(rank, world_size, device)``; a plain ``python`` run is rank 0 of 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    dev = torch.device(f"cuda:{local_rank}" if use_cuda else (device if device != "auto" else "cpu"))
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        # Import torch._dynamo *before* the group exists. DistributedDataParallel imports it on first use, and
        # an import after init_process_group keeps ten references to the default group that are never dropped
        # (torch 2.14): destroy_process_group() then cannot free the gloo backend, so its worker and TCP-loop
        # threads run on into interpreter shutdown, where a thread releasing a tensor needs the GIL and the
        # process aborts ("terminate called without an active exception", SIGABRT) -- more often the busier
        # the CPU. Imported first, destroy_process_group() joins those threads and the process exits cleanly.
        importlib.import_module("torch._dynamo")  # (an `import torch._dynamo` here would make `torch` local)

        dist.init_process_group("nccl" if use_cuda else "gloo")
    return rank, world, dev


class Meter:
    """Running means of named values since the last ``reset``."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def update(self, values: dict[str, float]):
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


def pixel_step(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor, optimizer: torch.optim.Optimizer,
               loss_fn: nn.Module) -> dict[str, float]:
    """One optimisation step of a pixel-loss (MSE or L1) model."""
    sr = model(lr)
    loss = loss_fn(sr, hr)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": loss.item()}


def gan_step(generator: nn.Module, discriminator: nn.Module, lr: torch.Tensor, hr: torch.Tensor,
             opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, *, content_loss: nn.Module | None,
             pixel_loss: nn.Module | None = None, adv_weight: float = 1e-3, content_weight: float = 1.0,
             pixel_weight: float = 0.0, tv_weight: float = 0.0, target: torch.Tensor | None = None,
             mesh_weight: float = 0.0) -> dict[str, float]:
    """One SRGAN step: the generator with the discriminator frozen, then the discriminator on detached SR.

    Generator loss = content_weight * content + adv_weight * BCE(D(SR), real)
    (+ pixel_weight * pixel + tv_weight * TV + mesh_weight * the input-pixel mesh of SR - target). Discriminator loss =
    BCE(D(HR), real) + BCE(D(SR.detach()), fake). The discriminator's logits may be one per image (SRGAN)
    or one per pixel (a U-Net discriminator). ``target`` (default ``hr``) is what the content and pixel
    losses compare with, e.g. a sharpened HR (Real-ESRGAN); the discriminator always sees ``hr``.
    """
    target = hr if target is None else target
    gan = GANLoss()
    sr = generator(lr)
    for p in discriminator.parameters():
        p.requires_grad_(False)
    terms = {"adv": gan(discriminator(sr), True)}
    if content_loss is not None and content_weight:
        terms["content"] = content_loss(sr, target)
    if pixel_loss is not None and pixel_weight:
        terms["pixel"] = pixel_loss(sr, target)
    if tv_weight:
        terms["tv"] = tv_loss(sr)
    if mesh_weight:
        terms["mesh"] = mesh_loss(sr, target, sr.shape[-1] // lr.shape[-1])
    weights = {"adv": adv_weight, "content": content_weight, "pixel": pixel_weight, "tv": tv_weight,
               "mesh": mesh_weight}
    loss_g = sum(weights[k] * v for k, v in terms.items())
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()

    # The discriminator sees the generator's output as a constant: no gradient flows back into G.
    for p in discriminator.parameters():
        p.requires_grad_(True)
    real, fake = discriminator(hr), discriminator(sr.detach())
    loss_d = gan(real, True) + gan(fake, False)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    out = {"loss_g": loss_g.item(), "loss_d": loss_d.item(),
           "d_real": torch.sigmoid(real).mean().item(), "d_fake": torch.sigmoid(fake).mean().item()}
    out.update({f"g_{k}": v.item() for k, v in terms.items()})
    return out


@torch.no_grad()
def save_state(path: str | Path, state: dict) -> None:
    """``torch.save`` to a temp file in the same folder, then rename: a kill never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp), fsync=True)


def load_state(path: str | Path) -> dict:
    """Read a training state written by ``save_state`` (tensors and plain values only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def replicas_in_sync(model: nn.Module) -> bool:
    """True if every rank holds exactly the same parameters (always true outside torchrun)."""
    if not (dist.is_available() and dist.is_initialized()):
        return True
    flat = torch.cat([p.detach().float().reshape(-1).cpu() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])
