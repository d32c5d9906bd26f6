"""Weights I/O: ``weights/<name>/model.safetensors`` + ``config.json``, local first, Hub second.

``config.json`` is the source of truth (the safetensors header holds only strings)::

    {"format_version": 1, "name": "srresnet", "arch": "srresnet", "hparams": {...},
     "scale": 4, "io": "rgb01", "dataset": "...", "metrics": {...}, "seed": 0, ...}

``load_model(name_or_path)`` is the library's one answer to "which model does this name mean" (the CLI,
the app, the benchmarks and training all load through it). It resolves, in this order:

0. ``<name>@<detail>`` (``real@0.3``) or ``detail=``: ``<name>`` blended with its smooth pair at that
   detail (:mod:`sr_core.detail`; each value built once and cached);
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

import functools
import json
import logging
from pathlib import Path

import torch
from torch import nn

from . import community, config
from .detail import DETAIL_PAIRS, blend_config, check_detail, split_name
from .io import atomic_write
from .nets import ARCHS, CLASSICAL, NET_PRESETS, build_model, build_preset
from .nets.blend import DetailBlend
from .state_dict import CheckpointError, clean_state_dict, load_state_into, read_state_dict

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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


def locate_weights(name_or_path: str | Path, local_files_only: bool | None = None) -> tuple[Path, Path | None]:
    """(weights file, config file or None) of this project's format for a name or path: a folder, a file,
    ``weights/<name>/``, or the Hub (``SR_HUB_REPO``; its local cache only when ``local_files_only`` or
    ``HF_HUB_OFFLINE``). Raises ``FileNotFoundError`` listing every place it looked."""
    looked: list[str] = []
    path = Path(name_or_path)
    if path.is_dir():
        return path / WEIGHTS_FILE, path / CONFIG_FILE
    if path.is_file():
        cfg = path.parent / CONFIG_FILE
        return path, cfg if cfg.is_file() else None
    looked.append(f"path {path}")
    name = str(name_or_path)
    local = config.weights_dir() / name
    if (local / WEIGHTS_FILE).is_file():
        return local / WEIGHTS_FILE, local / CONFIG_FILE
    looked.append(f"local folder {local}")
    local_files_only = config.hub_offline(local_files_only)
    repo = config.hub_repo()
    if repo is None:
        looked.append("Hugging Face Hub (skipped: set SR_HUB_REPO to a repository id to download from it)")
    elif "/" not in name and "\\" not in name:
        looked.append(f"Hugging Face Hub {repo}/{name}" + (" (local cache only: HF_HUB_OFFLINE)" if local_files_only else ""))
        try:
            from huggingface_hub import hf_hub_download

            cfg = hf_hub_download(repo, f"{name}/{CONFIG_FILE}", local_files_only=local_files_only)
            weights = hf_hub_download(repo, f"{name}/{WEIGHTS_FILE}", local_files_only=local_files_only)
            return Path(weights), Path(cfg)
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


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu", *, detail: float | None = None,
               local_files_only: bool | None = None, arch: str | None = None, **hparams) -> nn.Module:
    """Load a model by name (``real``, ``srresnet``, ``srgan``, ``bicubic``, ``real@0.3``, ...) or path.

    Returns the network in eval mode on ``device`` (``auto`` picks CUDA when
    present), with its config dict as ``model.config``. ``<name>@<detail>`` or
    ``detail=`` gives ``<name>`` blended with its smooth pair (``sr_core.detail``;
    ``ValueError`` for a model without one). A checkpoint file without a
    ``config.json`` beside it needs ``arch`` (and any non-default ``hparams``),
    or it is loaded as a community model (spandrel).
    """
    device = pick_device(device)
    name = str(name_or_path)
    if name in CLASSICAL:
        arch_name, preset = NET_PRESETS[name]
        model = build_model(arch_name, **{**preset, **hparams})
        model.config = {"name": name, "arch": arch_name, "hparams": model.hparams, "scale": model.hparams["scale"]}
        return model.eval().to(device)
    base, named_detail = split_name(name) if isinstance(name_or_path, str) else (name, None)
    if detail is not None or named_detail is not None:
        value = check_detail(base, detail if detail is not None else named_detail)  # before anything is loaded
        # keyed by where names resolve too: SR_WEIGHTS_DIR changed in one process must not return a stale blend
        return _load_blend(base, value, str(device), (str(config.weights_dir()), config.hub_repo()))
    if arch is None:  # hf://..., a file with no config.json beside it, or a name in SR_MODELS_DIR: spandrel
        found = community.resolve(name_or_path, local_files_only)
        if found is not None:
            return community.load_community(found, device)
    return _load_own(name_or_path, device, local_files_only, arch, hparams)


def _load_own(name_or_path: str | Path, device: torch.device, local_files_only: bool | None, arch: str | None,
              hparams: dict) -> nn.Module:
    """A model of this project's format (``model.safetensors`` + ``config.json``), or a bare file with ``arch``."""
    weights, cfg_path = locate_weights(name_or_path, local_files_only)
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


@functools.lru_cache(maxsize=8)
def _load_blend(name: str, detail: float, device: str, where: tuple) -> nn.Module:
    """``name`` blended with its smooth pair at ``detail`` (already checked and rounded): built once per value
    and per ``where`` (the weights folder and Hub repository names resolve in)."""
    textured = load_model(name, device=device)
    if detail == 1.0:
        textured.config = {**textured.config, "detail": 1.0}
        return textured
    smooth = load_model(DETAIL_PAIRS[name], device=device)
    if detail == 0.0:  # real-psnr alone, described as the blend it stands for
        smooth.config = blend_config(textured.config, DETAIL_PAIRS[name], 0.0)
        return smooth
    return DetailBlend(smooth, textured, detail)


def blend_cache_info():
    """``functools`` cache statistics of the blended networks ``load_model`` holds (``currsize``: how many)."""
    return _load_blend.cache_info()


def clear_blend_cache() -> None:
    """Forget the blended networks ``load_model`` holds (the next request builds them again)."""
    _load_blend.cache_clear()


def available_models() -> list[str]:
    """Every model name the project knows, in display order."""
    return list(NET_PRESETS)


def has_weights(name: str) -> bool:
    return name in CLASSICAL or (config.weights_dir() / name / WEIGHTS_FILE).is_file()


__all__ = ["load_model", "locate_weights", "save_pretrained", "read_state_dict", "load_state_into", "pick_device",
           "CheckpointError", "available_models", "has_weights", "build_preset", "blend_cache_info",
           "clear_blend_cache"]
