"""Reading weights files safely: the one reader of ``.safetensors`` / ``.pth`` / ``.pt`` / ``.ckpt`` tensors.

Both loaders use it: this project's own checkpoints (:mod:`sr_core.checkpoint`) and community models
(:mod:`sr_core.community`). Nothing in a file is ever executed: safetensors files hold no code, and pickled
files are read with ``torch.load(weights_only=True)`` (plain tensors and containers only; a pickle that
names any other callable is refused before it runs). TorchScript archives are not accepted. Every failure
is a one-line :class:`CheckpointError` that names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

# entries of a training checkpoint that hold the network's tensors, in order of preference
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "generator")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into the network its config describes."""


def error(message: str) -> CheckpointError:
    """A :class:`CheckpointError` whose message is one line."""
    return CheckpointError(" ".join(str(message).split()))


def short(err: BaseException, limit: int = 160) -> str:
    """An exception's message on one line, at most ``limit`` characters."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DDP's ``module.`` and torch.compile's ``_orig_mod.`` prefixes."""
    out = {}
    for k, v in state.items():
        for prefix in ("module.", "_orig_mod."):
            while k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def _torch_load(path: Path):
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the refusal below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        text = str(err)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            why = "it holds pickled objects or code, not only tensors; nothing in it was run"
        elif "TorchScript" in text or "constants.pkl" in text:
            why = "TorchScript archives are not accepted (they carry code)"
        else:
            first = text.strip().splitlines()[0] if text.strip() else ""
            why = f"not a PyTorch model file ({type(err).__name__}: {short(first)})"
        raise error(f"{path}: refused to load: {why}") from None


def read_state_dict(path: str | Path, *, unwrap: bool = True) -> dict:
    """The tensors of a weights file, never running code from it (see the module docstring).

    Args:
        path: a ``.safetensors`` file, or any other file read with ``torch.load(weights_only=True)``.
        unwrap: take the tensors out of a training checkpoint's ``params_ema`` / ``params`` /
            ``state_dict`` / ``model`` / ``generator`` entry, require a flat dict of tensors and strip
            ``module.`` / ``_orig_mod.`` prefixes (this project's files and the peers'); False returns
            the file's dict as it is (spandrel canonicalises community files itself).

    Raises:
        CheckpointError: one line naming the file.
    """
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as err:  # SafetensorError (truncated, not safetensors) is no ValueError/OSError
            raise error(f"{path}: not a readable safetensors file ({short(err)})") from None
    else:
        state = _torch_load(path)
    if not isinstance(state, dict):
        raise error(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    if not unwrap:
        return state
    for key in WRAPPER_KEYS:
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise error(f"{path}: does not hold a state dict of tensors")
    return clean_state_dict(state)


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """``load_state_dict(strict=True)`` with an error that names missing, unexpected and mis-shaped tensors."""
    own = model.state_dict()
    # BatchNorm's step counter is bookkeeping, not a weight; some releases leave it out.
    state = {**{k: v for k, v in own.items() if k.endswith("num_batches_tracked")}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensors (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:3])})")
        raise CheckpointError(f"{source} does not match its config: " + "; ".join(parts))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return model


__all__ = ["CheckpointError", "read_state_dict", "clean_state_dict", "load_state_into", "WRAPPER_KEYS"]
