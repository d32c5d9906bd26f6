"""Community models (ESRGAN, Real-ESRGAN, SwinIR, HAT, SPAN, ...) loaded through spandrel.

A ``.pth`` / ``.pt`` / ``.ckpt`` / ``.safetensors`` file of any architecture that
`spandrel <https://github.com/chaiNNer-org/spandrel>`_ recognises is wrapped in a
:class:`CommunityModel`: a plain ``nn.Module`` with ``scale``, ``hparams`` and
``config`` like this library's own networks, so the tiled, memory-bounded
inference (:mod:`sr_core.inference`), batching, dtype and progress work unchanged.
:func:`sr_core.load_model` routes here; callers never see which loader made the module.

Where files come from (:func:`resolve`):

- an explicit path to a file with no ``config.json`` beside it (a folder or file
  with ``config.json`` is this project's own format);
- a name in the models folder ``SR_MODELS_DIR`` (default: see :func:`sr_core.config.models_dir`),
  given with or without its extension;
- ``hf://owner/repo/path/in/repo.pth``: downloaded with ``huggingface_hub`` (cache only
  when ``HF_HUB_OFFLINE=1``).

Safety: nothing in a file is ever executed. Pickled files are read with
``torch.load(weights_only=True)`` (plain tensors and containers only; a pickle that
names any other callable is refused before it runs), safetensors files hold no code,
and the architecture is detected by spandrel from the tensor names and shapes alone.
TorchScript archives are not accepted. Every failure is a one-line
:class:`~sr_core.state_dict.CheckpointError` that names the file (:func:`sr_core.state_dict.read_state_dict`
reads every weights file of this library).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from . import config
from .state_dict import error as _error, read_state_dict, short as _short

log = logging.getLogger(__name__)

SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
HF_PREFIX = "hf://"
MIN_SCALE, MAX_SCALE = 1, 8
PURPOSES = ("SR", "Restoration")  # image to image; face restoration (fixed 512 px crops) and inpainting are not


class CommunityModel(nn.Module):
    """A spandrel-loaded network behind this library's model interface.

    Input and output are (N, 3, H, W) RGB in [0, 1]; the input is padded to the
    network's size requirements (reflect, then replicate) and the output cropped back
    to exactly ``scale`` times the input. One-channel networks see the BT.601 luma
    and their output is repeated to RGB.

    Attributes:
        net: the architecture's own module (its weights are this module's weights).
        scale: the upscaling factor the file declares (1 to 8).
        hparams: ``{"scale", "num_features", "in_channels"}`` (for tile sizing and probes).
        supports_half, supports_bfloat16: spandrel's precision flags (the inference
            runner falls back to float32 where they are False).
        bytes_per_input_pixel: estimated peak memory of a forward pass per input pixel.
    """

    def __init__(self, descriptor):
        super().__init__()
        self.net = descriptor.model
        self.scale = int(descriptor.scale)
        self.in_channels = int(descriptor.input_channels)
        self.out_channels = int(descriptor.output_channels)
        req = descriptor.size_requirements
        self.multiple_of, self.minimum, self.square = int(req.multiple_of), int(req.minimum), bool(req.square)
        self._call = getattr(descriptor, "_call_fn", None)
        self.supports_half = bool(descriptor.supports_half)
        self.supports_bfloat16 = bool(descriptor.supports_bfloat16)
        widths = [m.out_channels for m in self.net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        widths += [m.out_features for m in self.net.modules() if isinstance(m, nn.Linear)]
        features = max(widths, default=64)
        self.hparams = {"scale": self.scale, "num_features": features, "in_channels": 3}
        # The generic estimate of sr_core.inference (a conv net working partly at output resolution),
        # four times that for networks with attention / fully connected layers (window attention maps).
        attention = any(isinstance(m, (nn.Linear, nn.MultiheadAttention, nn.LayerNorm)) for m in self.net.modules())
        self.bytes_per_input_pixel = 4 * features * (8 + 6 * self.scale ** 2) * (4 if attention else 1)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.multiple_of
        th, tw = max(h, self.minimum), max(w, self.minimum)
        if self.square:
            th = tw = max(th, tw)
        th, tw = -(-th // m) * m, -(-tw // m) * m
        ph, pw = th - h, tw - w
        if ph or pw:
            rh, rw = min(ph, h - 1), min(pw, w - 1)
            x = nn.functional.pad(x, (0, rw, 0, rh), mode="reflect") if rh or rw else x
            if ph - rh or pw - rw:
                x = nn.functional.pad(x, (0, pw - rw, 0, ph - rh), mode="replicate")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = x.contiguous()  # the architectures' own reshapes expect the default memory format
        if self.in_channels == 1 and x.shape[1] == 3:
            x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = self._pad(x)
        y = self._call(self.net, x) if self._call is not None else self.net(x)
        y = y[..., :h * self.scale, :w * self.scale]
        if self.out_channels == 1:
            y = y.expand(-1, 3, -1, -1)
        return y

    def extra_repr(self) -> str:
        return f"scale={self.scale}, architecture={self.config.get('architecture') if hasattr(self, 'config') else '?'}"


# --- finding files --------------------------------------------------------------------------------------

def is_model_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUFFIXES


def list_models_dir(directory: str | Path | None = None) -> list[Path]:
    """Model files directly in the models folder (sorted by name; none if the folder does not exist)."""
    directory = Path(directory) if directory is not None else config.models_dir()
    try:
        return sorted((p for p in directory.iterdir() if is_model_file(p) and not p.name.startswith(".")),
                      key=lambda p: p.name.lower())
    except OSError:
        return []


def models_dir_names() -> list[str]:
    """Names of the models folder's files, as the CLI and the app list them (the file name)."""
    return [p.name for p in list_models_dir()]


def find_in_models_dir(name: str) -> Path | None:
    """``<models dir>/<name>``, or ``<name>`` plus one of the model suffixes; None if absent."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return None
    directory = config.models_dir()
    for candidate in [directory / name] + [directory / f"{name}{s}" for s in SUFFIXES]:
        if is_model_file(candidate):
            return candidate
    return None


def parse_hf(url: str) -> tuple[str, str]:
    """``hf://owner/repo/path/file.pth`` -> (``owner/repo``, ``path/file.pth``)."""
    parts = url[len(HF_PREFIX):].strip("/").split("/")
    if len(parts) < 3 or not all(parts):
        raise _error(f"{url}: expected hf://owner/repo/file.pth (a file in a Hugging Face Hub model repository)")
    return f"{parts[0]}/{parts[1]}", "/".join(parts[2:])


def download_hf(url: str, local_files_only: bool | None = None) -> Path:
    """Download (or find in the Hub cache) the file an ``hf://`` address names."""
    repo, filename = parse_hf(url)
    if Path(filename).suffix.lower() not in SUFFIXES:
        raise _error(f"{url}: not a model file (expected {', '.join(SUFFIXES)})")
    local_files_only = config.hub_offline(local_files_only)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise _error(f"{url}: downloading from the Hub needs huggingface_hub (pip install huggingface_hub)") from None
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=local_files_only))
    except Exception as err:  # offline, missing repo or file, HTTP errors
        raise _error(f"{url}: could not download ({type(err).__name__}: {_short(err)})") from None


def resolve(name_or_path: str | Path, local_files_only: bool | None = None) -> Path | None:
    """The community model file ``name_or_path`` refers to, or None when it is not one (see the module docstring)."""
    name = str(name_or_path)
    if name.startswith(HF_PREFIX):
        return download_hf(name, local_files_only)
    path = Path(name_or_path)
    if path.is_file():
        return None if (path.parent / "config.json").is_file() else path
    if path.exists() or (config.weights_dir() / name / "model.safetensors").is_file():
        return None  # a folder, or a shipped model's name
    return find_in_models_dir(name)


# --- loading --------------------------------------------------------------------------------------------

def load_community(path: str | Path, device: str | torch.device = "cpu", name: str | None = None) -> CommunityModel:
    """Load a community model file into a :class:`CommunityModel` in eval mode on ``device``."""
    from spandrel import ImageModelDescriptor, MAIN_REGISTRY, UnsupportedModelError, canonicalize_state_dict

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise _error(f"{path}: not a model file (expected {', '.join(SUFFIXES)})")
    state = read_state_dict(path, unwrap=False)  # the one safe reader: never runs code from the file
    try:
        state = canonicalize_state_dict(state)  # params_ema / params / state_dict / ... and module. prefixes
    except Exception as err:
        raise _error(f"{path}: not a model state dict ({_short(err)})") from None
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)} if isinstance(state, dict) else {}
    if not tensors:
        raise _error(f"{path}: no tensors found; not a model file")
    try:
        descriptor = MAIN_REGISTRY.load(state)
    except UnsupportedModelError:
        raise _error(f"{path}: not a model of any architecture spandrel recognises ({len(tensors)} tensors, "
                     f"e.g. {', '.join(list(tensors)[:3])})") from None
    except Exception as err:  # detected, but the shapes do not fit that architecture
        raise _error(f"{path}: looks like a model but could not be built ({type(err).__name__}: {_short(err)})") from None
    arch = descriptor.architecture
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose not in PURPOSES:
        raise _error(f"{path}: a {arch.name} model for {descriptor.purpose}; only super-resolution and "
                     "restoration models (image in, image out) are supported")
    if not MIN_SCALE <= descriptor.scale <= MAX_SCALE:
        raise _error(f"{path}: {arch.name} model with scale {descriptor.scale}x; supported: "
                     f"{MIN_SCALE}x to {MAX_SCALE}x")
    if descriptor.input_channels not in (1, 3) or descriptor.output_channels not in (1, 3):
        raise _error(f"{path}: {arch.name} model with {descriptor.input_channels} input / "
                     f"{descriptor.output_channels} output channels; only RGB or grey models are supported")
    model = CommunityModel(descriptor)
    model.config = {"name": name or path.name, "arch": f"spandrel:{arch.id}", "architecture": arch.name,
                    "loader": f"spandrel {_spandrel_version()}", "scale": model.scale, "io": "rgb01",
                    "tags": list(descriptor.tags), "tiling": descriptor.tiling.name.lower(),
                    "source": str(path), "hparams": dict(model.hparams)}
    log.info("loaded %s: %s %dx through spandrel", path, arch.name, model.scale)
    return model.eval().to(torch.device(device) if not isinstance(device, torch.device) else device)


def _spandrel_version() -> str:
    import spandrel

    return getattr(spandrel, "__version__", "?")


def describe(path: str | Path) -> dict:
    """Architecture, scale and parameter count of a community file (loads it on the CPU)."""
    model = load_community(path)
    return {"architecture": model.config["architecture"], "scale": model.scale,
            "parameters": sum(p.numel() for p in model.parameters())}


def models_dir_rows() -> list[tuple[str, str, int | None, int | None, str]]:
    """``(name, architecture, scale, parameters, status)`` per file of the models folder, for ``sr-core models``.

    ``status`` is ``SR_MODELS_DIR`` for a usable file, else ``unusable: <reason>`` (scale and parameters None).
    """
    rows = []
    for path in list_models_dir():
        try:
            info = describe(path)
            rows.append((path.name, f"spandrel {info['architecture']}", info["scale"], info["parameters"],
                         "SR_MODELS_DIR"))
        except Exception as err:  # CheckpointError, or any failure inside an architecture's own loader
            rows.append((path.name, "-", None, None, f"unusable: {_short(err, 120)}"))
    return rows


__all__ = ["CommunityModel", "load_community", "resolve", "list_models_dir", "models_dir_names",
           "find_in_models_dir", "download_hf", "parse_hf", "describe", "models_dir_rows", "SUFFIXES"]
