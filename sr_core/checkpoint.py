"""Weights I/O: ``weights/<name>/model.safetensors`` + ``config.json``, local first, Hub second.

``config.json`` is the source of truth (the safetensors header holds only strings)::

    {"format_version": 1, "name": "srresnet", "arch": "srresnet", "hparams": {...},
     "scale": 4, "io": "rgb01", "dataset": "...", "metrics": {...}, "seed": 0, ...}

``load_model(name_or_path)`` resolves, in this order:

1. an explicit path: a folder holding the pair, a ``.safetensors`` file (its
   ``config.json`` beside it), or a ``.pth``/``.pt`` file read with
   ``torch.load(weights_only=True)`` (never unpickling arbitrary objects);
   a model file with no ``config.json`` beside it (any architecture spandrel
   recognises: ESRGAN, Real-ESRGAN, SwinIR, HAT, SPAN, ...) or an
   ``hf://owner/repo/file.pth`` address goes to :mod:`sr_core.community`;
2. ``weights/<name>/`` in this repository (``SR_WEIGHTS_DIR``), then a file
   ``<name>`` in the models folder ``SR_MODELS_DIR`` (:mod:`sr_core.community`);
3. the Hugging Face Hub repository ``SR_HUB_REPO`` (subfolder ``<name>``) when
   that variable is set, from the local Hub cache only if ``HF_HUB_OFFLINE=1``
   (``huggingface_hub`` is imported only then);

and raises ``FileNotFoundError`` listing every place it looked. The classical
names ``bicubic``, ``lanczos`` and ``nearest`` need no weights.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from torch import nn

from . import config
from .io import atomic_write
from .nets import ARCHS, CLASSICAL, PRESETS, build_model, build_preset

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into the network its config describes."""


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DDP's ``module.`` and torch.compile's ``_orig_mod.`` prefixes."""
    out = {}
    for k, v in state.items():
        for prefix in ("module.", "_orig_mod."):
            while k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out



def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DataParallel/DDP (``.module``) and torch.compile (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def arch_of(model: nn.Module) -> str:
    for name, cls in ARCHS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not one of the known architectures {list(ARCHS)}")


# config.json entries that save_pretrained derives from the model itself (the rest is caller metadata)
DERIVED_CONFIG_KEYS = ("format_version", "arch", "hparams", "scale", "io", "dtype")


def training_metadata(cfg: dict) -> dict:
    """The caller metadata of a ``config.json`` (everything but ``DERIVED_CONFIG_KEYS``), to pass on to
    ``save_pretrained`` when re-saving a model (shipping it, averaging it)."""
    return {k: v for k, v in cfg.items() if k not in DERIVED_CONFIG_KEYS}


def save_pretrained(model: nn.Module, directory: str | Path, *, half: bool = False, **metadata) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically).

    Args:
        model: a network built from ``sr_core.nets`` (it carries ``hparams``).
        directory: output folder, created if needed.
        half: store float tensors as float16 (they are loaded back as float32).
        **metadata: extra config entries (``name``, ``dataset``, ``metrics``, ``seed``, ...).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = unwrap(model)
    state = {}
    for k, v in clean_state_dict(model.state_dict()).items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    cfg = {"format_version": FORMAT_VERSION, "arch": arch_of(model), "hparams": model.hparams,
           "scale": model.hparams.get("scale"), "io": "rgb01", "dtype": "float16" if half else "float32",
           **metadata}
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    atomic_write(directory / CONFIG_FILE,
                  lambda tmp: Path(tmp).write_text(json.dumps(cfg, indent=2, sort_keys=False) + "\n"))
    return directory


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a ``.pth``/``.pt`` file loaded with ``weights_only=True``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return clean_state_dict(load_file(str(path), device="cpu"))
        except Exception as err:  # SafetensorError (truncated, not safetensors) is no ValueError/OSError
            raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: refused to load (only plain tensors are accepted; {err})") from None
    for key in ("params_ema", "params", "state_dict", "model", "generator"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
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


def _resolve(name_or_path: str | Path, local_files_only: bool | None) -> tuple[Path, Path | None, list[str]]:
    """Find (weights file, config file or None) for a name or path; also return where it looked."""
    looked: list[str] = []
    path = Path(name_or_path)
    if path.is_dir():
        return path / WEIGHTS_FILE, path / CONFIG_FILE, looked
    if path.is_file():
        cfg = path.parent / CONFIG_FILE
        return path, cfg if cfg.is_file() else None, looked
    looked.append(f"path {path}")
    name = str(name_or_path)
    local = config.weights_dir() / name
    if (local / WEIGHTS_FILE).is_file():
        return local / WEIGHTS_FILE, local / CONFIG_FILE, looked
    looked.append(f"local folder {local}")
    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    repo = config.hub_repo()
    if repo is None:
        looked.append("Hugging Face Hub (skipped: set SR_HUB_REPO to a repository id to download from it)")
    elif "/" not in name and "\\" not in name:
        looked.append(f"Hugging Face Hub {repo}/{name}" + (" (local cache only: HF_HUB_OFFLINE)" if local_files_only else ""))
        try:
            from huggingface_hub import hf_hub_download

            cfg = hf_hub_download(repo, f"{name}/{CONFIG_FILE}", local_files_only=local_files_only)
            weights = hf_hub_download(repo, f"{name}/{WEIGHTS_FILE}", local_files_only=local_files_only)
            return Path(weights), Path(cfg), looked
        except ImportError:
            looked[-1] += " (huggingface_hub not installed)"
        except Exception as err:  # offline, missing repo, HTTP errors: all mean "not there"
            looked[-1] += f" ({type(err).__name__})"
    raise FileNotFoundError(f"no weights for {name!r}; looked in: " + "; ".join(looked))


def read_config(path: str | Path) -> dict:
    try:
        cfg = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(cfg, dict) or "arch" not in cfg:
        raise CheckpointError(f"{path}: not a model config (no 'arch' entry)")
    if cfg.get("format_version", 1) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {cfg['format_version']} is newer than this library's "
                              f"{FORMAT_VERSION}; update sr_core")
    return cfg


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu", *,
               local_files_only: bool | None = None, arch: str | None = None, **hparams) -> nn.Module:
    """Load a model by name (``srresnet``, ``srgan``, ``swift-srgan``, ``srcnn``, ``bicubic``, ...) or path.

    Returns the network in eval mode on ``device`` (``auto`` picks CUDA when
    present), with its config dict as ``model.config``. A checkpoint file
    without a ``config.json`` beside it needs ``arch`` (and any non-default
    ``hparams``), or a preset name's architecture is used.
    """
    device = pick_device(device)
    name = str(name_or_path)
    if name in CLASSICAL:
        arch_name, preset = PRESETS[name]
        model = build_model(arch_name, **{**preset, **hparams})
        model.config = {"name": name, "arch": arch_name, "hparams": model.hparams, "scale": model.hparams["scale"]}
        return model.eval().to(device)
    if arch is None:  # hf://..., a file with no config.json beside it, or a name in SR_MODELS_DIR: spandrel
        from . import community

        found = community.resolve(name_or_path, local_files_only)
        if found is not None:
            return community.load_community(found, device)
    weights, cfg_path, _ = _resolve(name_or_path, local_files_only)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: weights file missing")
    if cfg_path is not None and cfg_path.is_file():
        cfg = read_config(cfg_path)
        try:
            model = build_model(cfg["arch"], **{**cfg.get("hparams", {}), **hparams})
        except (TypeError, ValueError) as err:  # unknown arch, unknown or invalid constructor arguments
            raise CheckpointError(f"{cfg_path}: cannot build {cfg['arch']!r} from its hparams ({err})") from None
    elif arch is not None:
        model = build_model(arch, **hparams)
        cfg = {"arch": arch, "hparams": model.hparams}
    else:
        raise CheckpointError(f"{weights}: no {CONFIG_FILE} beside it; pass arch= (and its hparams) to load it")
    load_state_into(model, read_state_dict(weights), source=str(weights))
    cfg.setdefault("name", Path(weights).parent.name if cfg_path else Path(weights).stem)
    cfg.setdefault("scale", model.hparams.get("scale"))
    model.config = cfg
    return model.eval().to(device)


def available_models() -> list[str]:
    """Every model name the project knows, in display order."""
    return list(PRESETS)


def has_weights(name: str) -> bool:
    return name in CLASSICAL or (config.weights_dir() / name / WEIGHTS_FILE).is_file()


__all__ = ["load_model", "save_pretrained", "read_state_dict", "load_state_into", "pick_device",
           "CheckpointError", "available_models", "has_weights", "build_preset"]
