"""Inference-only rewrites of a trained network: same outputs (to float rounding), less time.

``prepare_for_inference(model)`` returns a copy of an eval-mode network that
computes the same function faster; the network it was given is not touched,
so training, ``state_dict()`` and ``save_pretrained`` keep working on it.
:func:`sr_core.inference.upscale_tensor` calls it (through a cache) unless
``optimize=False``. The rewrites:

* :func:`fuse_for_inference`: BatchNorm (running statistics) folded into the
  convolution before it, i.e. ``w' = w * g / sqrt(v + eps)`` and
  ``b' = (b - m) * g / sqrt(v + eps) + beta``. A separable convolution is
  folded through its pointwise part (the BatchNorm sees the pointwise output).
* :func:`phase_tail`: the last sub-pixel stage of an SRResNet-style upsampler
  (conv to 4C channels, pixel shuffle 2, activation) followed by a k x k tail
  convolution to a few channels becomes: conv to 4C, activation (per phase),
  one convolution from the 4C phase channels to the 4 x 3 output phases
  (5 x 5 for a 9 x 9 tail), pixel shuffle of that 12-channel map. The
  64-channel full-resolution map is never built, and the tail convolution
  gets 12 output channels instead of 3 (oneDNN's CPU kernels vectorise over
  output channels and waste 13 of 16 lanes on 3: the 9 x 9 tail took a third
  of SRResNet's time). Only where it does not multiply the work: a separable
  tail (Swift-SRGAN's) would first be merged into one dense convolution with
  3.6x its multiply-accumulates, which measured slower, so it is left alone
  unless asked for (``phase_tail(model, max_mac_ratio=None)``).
* channels-last memory format (oneDNN's dense 3 x 3 convolutions are about
  2.5x faster in NHWC than in NCHW on CPU).
* optional ``torch.compile``; low precision (float16/bfloat16) is applied by
  ``inference.py`` through ``torch.autocast``, with a float32 fallback.

:func:`tune_malloc` (opt-in, process-wide) makes glibc reuse freed memory;
the CLI turns it on. ``python -m benchmarks.run`` measures every step.
"""

from __future__ import annotations

import copy
import logging
import math
import weakref

import torch
from torch import nn

from .nets.blocks import ConvBlock, SeparableConv2d

log = logging.getLogger(__name__)

CONVS = (nn.Conv2d, SeparableConv2d)


# --- BatchNorm folding ---------------------------------------------------------------------------

def _bn_foldable(bn: nn.Module) -> bool:
    return isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats and bn.running_var is not None


@torch.no_grad()
def fold_batchnorm(conv: nn.Module, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution that feeds it (in place).

    ``conv`` is an ``nn.Conv2d`` or a :class:`SeparableConv2d` (folded into its
    pointwise part); a bias is added when the convolution has none.
    """
    if isinstance(conv, SeparableConv2d):
        conv = conv.pointwise
    if not isinstance(conv, nn.Conv2d) or conv.out_channels != bn.num_features:
        raise ValueError(f"cannot fold {bn} into {conv}")
    inv_std = torch.rsqrt(bn.running_var.double() + bn.eps)
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(inv_std)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(inv_std)
    factor = gamma * inv_std                                            # (O,)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(factor)
    conv.weight.copy_((conv.weight.double() * factor.view(-1, 1, 1, 1)).to(conv.weight.dtype))
    new_bias = ((bias - bn.running_mean.double()) * factor + beta).to(conv.weight.dtype)
    if conv.bias is None:
        conv.bias = nn.Parameter(new_bias, requires_grad=False)
    else:
        conv.bias.copy_(new_bias)


def _fold_structural(model: nn.Module) -> int:
    """Fold the pairs whose data flow the structure guarantees: ConvBlock(conv, norm), Sequential(conv, bn)."""
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, ConvBlock) and _bn_foldable(module.norm):
            fold_batchnorm(module.conv, module.norm)
            module.norm = nn.Identity()
            folded += 1
        elif isinstance(module, nn.Sequential):
            items = list(module._modules.items())
            for (_, conv), (bn_name, bn) in zip(items, items[1:]):
                if isinstance(conv, CONVS) and _bn_foldable(bn):
                    fold_batchnorm(conv, bn)
                    module._modules[bn_name] = nn.Identity()
                    folded += 1
    return folded


def _probe_input(model: nn.Module) -> torch.Tensor:
    channels = getattr(model, "hparams", {}).get("in_channels", 3)
    p = next(iter(model.parameters()), None)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, channels, 12, 12, generator=g)
    return x.to(p.device, p.dtype) if p is not None else x


@torch.no_grad()
def _traced_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Names of (conv, BatchNorm) pairs where, in a probe forward pass, the BatchNorm's input is the conv's output.

    Module hooks cannot see whether that output is also used elsewhere
    (``bn(y) + y``), so every fold made from these pairs is checked against
    the unfolded network.
    """
    names = {id(m): n for n, m in model.named_modules()}
    producer: dict[int, str] = {}
    pairs: list[tuple[str, str]] = []
    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(
                lambda m, i, o: producer.__setitem__(id(o), names[id(m)])))
        elif _bn_foldable(module):
            def on_bn(m, inputs):
                conv = producer.get(id(inputs[0]))
                if conv is not None and all(b != names[id(m)] for _, b in pairs):
                    pairs.append((conv, names[id(m)]))
            hooks.append(module.register_forward_pre_hook(on_bn))
    try:
        model(_probe_input(model))
    finally:
        for h in hooks:
            h.remove()
    return pairs


def _fold_named(model: nn.Module, pairs: list[tuple[str, str]]) -> nn.Module:
    """A copy of ``model`` with the named (conv, BatchNorm) pairs folded."""
    out = copy.deepcopy(model)
    for conv_name, bn_name in pairs:
        fold_batchnorm(out.get_submodule(conv_name), out.get_submodule(bn_name))
        parent, _, attr = bn_name.rpartition(".")
        setattr(out.get_submodule(parent) if parent else out, attr, nn.Identity())
    return out


@torch.no_grad()
def _fold_traced(model: nn.Module) -> tuple[nn.Module, int]:
    """Fold the traced pairs that keep the output unchanged: all at once, else one by one."""
    pairs = _traced_pairs(model)
    if not pairs:
        return model, 0
    x = _probe_input(model)
    ref = model(x)
    tol = 1e-4 * max(1.0, ref.abs().max().item())

    def attempt(selected):
        candidate = _fold_named(model, selected)
        return candidate if _max_abs_diff(candidate(x), ref) <= tol else None

    folded = attempt(pairs)
    if folded is not None:
        return folded, len(pairs)
    kept: list[tuple[str, str]] = []
    for pair in pairs:  # a conv whose output is also used unnormalised: leave that pair alone
        if attempt(kept + [pair]) is not None:
            kept.append(pair)
    return (_fold_named(model, kept), len(kept)) if kept else (model, 0)


def _max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def fuse_for_inference(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold every BatchNorm (eval mode, running statistics) into the convolution before it.

    Works on this library's networks (``ConvBlock``: standard or separable, the
    generator with ``norm="batch"``, the peers' imported Swift-SRGAN) and on
    plain ``conv -> bn`` pairs elsewhere (found by tracing one small forward
    pass; each fold is kept only if the outputs still agree). A network in
    training mode is returned unchanged: there, BatchNorm uses batch statistics.

    Args:
        model: the network.
        inplace: fold into ``model`` itself where the module structure allows
            (the traced folds still work on a copy) instead of a deep copy.
    """
    if model.training or not any(_bn_foldable(m) for m in model.modules()):
        return model
    fused = model if inplace else copy.deepcopy(model)
    n = _fold_structural(fused)
    if any(_bn_foldable(m) for m in fused.modules()):
        try:
            fused, m = _fold_traced(fused)  # no_grad, not inference_mode: new biases must be normal tensors
            n += m
        except Exception as err:  # a network the probe input does not fit: keep the structural folds only
            log.debug("traced BatchNorm folding skipped: %s", err)
    log.debug("folded %d BatchNorm layers", n)
    return fused


# --- sub-pixel tail in the phase domain ------------------------------------------------------------

class PhaseTail(nn.Module):
    """A 'same' k x k convolution applied to ``pixel_shuffle(x, 2)``, computed without the shuffle.

    Takes the pre-shuffle map (N, 4C, H, W) and returns the same (N, O, 2H, 2W)
    as ``conv(pixel_shuffle(x, 2))``: one convolution from the 4C phase
    channels to the 4O output phases, with a kernel of ``2 * ceil(r / 2) + 1``
    (r = k // 2), then a pixel shuffle of the small output.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        weight, bias = _dense_weight(conv)                            # (O, C, k, k), (O,)
        o, c, k, _ = weight.shape
        r = k // 2
        half = math.ceil(r / 2)
        kp = 2 * half + 1
        phase = weight.new_zeros(o, 2, 2, c, 2, 2, kp, kp)           # (o, p, q, c, i, j, u, v)
        for p in range(2):
            for i in range(2):
                for u in range(-half, half + 1):
                    dy = 2 * u + i - p
                    if not -r <= dy <= r:
                        continue
                    for q in range(2):
                        for j in range(2):
                            for v in range(-half, half + 1):
                                dx = 2 * v + j - q
                                if -r <= dx <= r:
                                    phase[:, p, q, :, i, j, u + half, v + half] = weight[:, :, dy + r, dx + r]
        self.conv = nn.Conv2d(4 * c, 4 * o, kp, padding=half)
        with torch.no_grad():
            self.conv.weight.copy_(phase.reshape(4 * o, 4 * c, kp, kp))
            self.conv.bias.copy_(bias.repeat_interleave(4))
        self.conv.requires_grad_(False)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))  # (N, 4C, H, W) -> (N, 4O, H, W) -> (N, O, 2H, 2W)


class _NoShuffle(nn.Module):
    """A sub-pixel block without its pixel shuffle: conv to 4C channels, then the activation per phase."""

    def __init__(self, conv: nn.Module, act: nn.Module):
        super().__init__()
        self.conv = conv
        if isinstance(act, nn.PReLU) and act.num_parameters > 1:
            slopes = act.weight.detach().repeat_interleave(4)        # channel 4c + k of the map is channel c
            act = nn.PReLU(slopes.numel()).to(slopes.device, slopes.dtype)
            with torch.no_grad():
                act.weight.copy_(slopes)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))  # (N, 4C, H, W)


def _dense_weight(conv: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of a standard conv, or of a separable conv merged into one dense conv."""
    if isinstance(conv, SeparableConv2d):
        dw, pw = conv.depthwise, conv.pointwise
        w = pw.weight[:, :, 0, 0, None, None] * dw.weight[:, 0][None]           # (O, C, k, k)
        b = pw.bias if pw.bias is not None else torch.zeros(pw.out_channels, device=w.device, dtype=w.dtype)
        if dw.bias is not None:
            b = b + pw.weight[:, :, 0, 0] @ dw.bias
        return w.detach(), b.detach()
    b = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels, device=conv.weight.device)
    return conv.weight.detach(), b.detach()


def _out_channels(conv: nn.Module) -> int:
    return conv.pointwise.out_channels if isinstance(conv, SeparableConv2d) else getattr(conv, "out_channels", -1)


def _up_parts(up: nn.Module) -> tuple[nn.Module, nn.Module] | None:
    """(conv, activation) of a block computing ``act(pixel_shuffle(conv(x), 2))``, or None."""
    conv, shuffle = getattr(up, "conv", None), getattr(up, "shuffle", None)
    act = getattr(up, "act", None) or getattr(up, "prelu", None)
    if not isinstance(conv, CONVS) or not isinstance(shuffle, nn.PixelShuffle) or shuffle.upscale_factor != 2:
        return None
    if not isinstance(act, (nn.PReLU, nn.ReLU, nn.LeakyReLU, nn.Identity)):
        return None
    if isinstance(act, nn.PReLU) and act.num_parameters not in (1, _out_channels(conv) // 4):
        return None
    return conv, act


def _tail_convertible(tail: nn.Module, max_out: int = 8) -> bool:
    """A small odd 'same' convolution (k >= 5) with few output channels, where the rewrite pays."""
    if not isinstance(tail, CONVS):
        return False
    parts = [tail.depthwise, tail.pointwise] if isinstance(tail, SeparableConv2d) else [tail]
    first = parts[0]
    k = first.kernel_size[0]
    return _out_channels(tail) <= max_out and first.kernel_size == (k, k) and k % 2 == 1 and k >= 5 \
        and first.padding == (k // 2, k // 2) and first.padding_mode == "zeros" \
        and all(c.stride == (1, 1) and c.dilation == (1, 1) for c in parts)


def _mac_ratio(tail: nn.Module) -> float:
    """Multiply-accumulates per output pixel of the phase-domain tail over those of ``tail`` itself."""
    first = tail.depthwise if isinstance(tail, SeparableConv2d) else tail
    c, o, k = first.in_channels, _out_channels(tail), first.kernel_size[0]
    kp = 2 * math.ceil((k // 2) / 2) + 1
    phase = (4 * c) * (4 * o) * kp * kp / 4                   # 4C -> 4O channels at a quarter of the pixels
    own = c * k * k + c * o if isinstance(tail, SeparableConv2d) else c * o * k * k
    return phase / own


def _rewrite(up: nn.Module, tail: nn.Module, max_mac_ratio: float | None) -> tuple[nn.Module, nn.Module] | None:
    parts = _up_parts(up)
    if parts is None or not _tail_convertible(tail):
        return None
    if max_mac_ratio is not None and _mac_ratio(tail) > max_mac_ratio:
        return None
    conv, act = parts
    ref = next(tail.parameters())
    return _NoShuffle(conv, act), PhaseTail(tail).to(ref.device, ref.dtype)


def phase_tail(model: nn.Module, max_mac_ratio: float | None = 1.5) -> int:
    """Rewrite (in place) every 'sub-pixel block then small conv' pair into its phase-domain form.

    Covers ``SRResNet`` (``upsample[-1]`` + ``tail``) and ``nn.Sequential``
    chains of the same shape (e.g. a peer's ``block8``). Returns how many
    pairs were rewritten. The caller checks the result against the original.

    Args:
        model: the network, rewritten in place.
        max_mac_ratio: skip a pair whose phase-domain tail needs more than this many times the
            multiply-accumulates of the original tail (a dense 9 x 9 tail: 1.23x, rewritten; a
            separable one: 3.6x, skipped); None rewrites every pair that fits.
    """
    done = 0
    up_seq, tail = getattr(model, "upsample", None), getattr(model, "tail", None)
    if isinstance(up_seq, nn.Sequential) and len(up_seq) and tail is not None:
        new = _rewrite(up_seq[-1], tail, max_mac_ratio)
        if new is not None:
            up_seq[-1], model.tail = new
            done += 1
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            keys = list(module._modules)
            for a, b in zip(keys, keys[1:]):
                new = _rewrite(module._modules[a], module._modules[b], max_mac_ratio)
                if new is not None:
                    module._modules[a], module._modules[b] = new
                    done += 1
    return done


# --- everything together ---------------------------------------------------------------------------

def channels_last_pays(model: nn.Module) -> bool:
    """True when most convolution weights sit in layers with >= 16 input (per group) and output channels.

    NHWC kernels vectorise over channels: they win on SRResNet's, SRCNN's and
    VDSR's 32-64 channel layers and lose on FSRCNN's 1-12 channel ones
    (``benchmarks.run``, models table).
    """
    wide = total = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            n = m.weight.numel()
            total += n
            if m.in_channels // m.groups >= 16 and m.out_channels >= 16:
                wide += n
    return total > 0 and wide * 2 > total


def prepare_for_inference(model: nn.Module, *, fuse: bool = True, tail: bool = True,
                          channels_last: bool | None = None, dtype: torch.dtype | None = None,
                          compile: bool = False) -> nn.Module:
    """An inference-only copy of ``model`` with the rewrites of this module applied.

    Args:
        model: an eval-mode network (a training-mode one is returned as is).
        fuse: fold BatchNorm into the convolutions (:func:`fuse_for_inference`).
        tail: rewrite the sub-pixel tail in the phase domain (:func:`phase_tail`); checked on a
            small probe input, and dropped if the outputs do not agree.
        channels_last: NHWC weights (the caller feeds NHWC inputs); None: on for CPU and CUDA
            where :func:`channels_last_pays`.
        dtype: cast the weights (e.g. ``torch.float16`` on CUDA); None keeps them.
        compile: wrap the result in ``torch.compile`` (slow first call).
    """
    if model.training or not any(True for _ in model.parameters()):
        return model
    out = copy.deepcopy(model)
    if hasattr(out, "reparameterize"):  # training-time branches merged into single convolutions (FastSR)
        out.reparameterize()
    if fuse:
        out = fuse_for_inference(out, inplace=True)
    if tail:
        rewritten = copy.deepcopy(out)
        if phase_tail(rewritten):
            try:
                with torch.inference_mode():
                    x = _probe_input(model)
                    ref = out(x)
                    if _max_abs_diff(rewritten(x), ref) <= 1e-4 * max(1.0, ref.abs().max().item()):
                        out = rewritten
                    else:
                        log.warning("phase-domain tail rewrite of %s does not match; not used", type(model).__name__)
            except Exception as err:
                log.debug("phase-domain tail rewrite skipped: %s", err)
    device = next(out.parameters()).device
    if channels_last is None:
        channels_last = device.type in ("cpu", "cuda") and channels_last_pays(out)
    if channels_last:
        out = out.to(memory_format=torch.channels_last)
    if dtype is not None:
        out = out.to(dtype)
    out.requires_grad_(False)
    out.inference_channels_last = bool(channels_last)
    if compile:
        if device.type == "cpu":
            import torch._inductor.config as inductor_config

            inductor_config.freezing = True  # constant-fold the weights, fuse conv + pointwise ops
        compiled = torch.compile(out, dynamic=False)
        compiled.inference_channels_last = out.inference_channels_last
        return compiled
    return out


def tune_malloc() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of unmapping it (process-wide; opt-in).

    Every large tensor is by default a fresh ``mmap`` whose pages the kernel
    must fault in and zero on first touch; a forward pass allocates and frees
    dozens of them. With mmap off (``M_MMAP_MAX=0``) and a 2 GiB trim
    threshold, freed blocks are reused. Measured by ``benchmarks.run``
    (``malloc`` step of the ablation). The resident set then stays at its peak
    instead of shrinking between images. Returns False where glibc is absent.
    PyTorch's CPU tuning guide suggests jemalloc/tcmalloc for the same reason.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2 ** 31 - 1))


_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


def _state_key(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place (optimizer steps)."""
    return tuple((t.data_ptr(), t._version, t.device.type, t.dtype) for t in
                 (*model.parameters(), *model.buffers()))


def cached_prepare(model: nn.Module, **options) -> nn.Module:
    """:func:`prepare_for_inference` memoised per model and options, rebuilt when the weights change."""
    if model.training:
        return model
    key = (tuple(sorted(options.items())), _state_key(model))
    hit = _CACHE.get(model)
    if hit is not None and hit[0] == key:
        return hit[1]
    prepared = prepare_for_inference(model, **options)
    try:
        _CACHE[model] = (key, prepared)
    except TypeError:  # not weak-referenceable
        pass
    return prepared


def forget_prepared(model: nn.Module) -> None:
    """Drop ``model``'s cached inference copy: the next :func:`cached_prepare` rebuilds it. For callers that
    change weights without bumping their version counters (``.data`` writes, CUDA's fused foreach steps)."""
    _CACHE.pop(model, None)


__all__ = ["fuse_for_inference", "fold_batchnorm", "phase_tail", "PhaseTail", "prepare_for_inference",
           "cached_prepare", "forget_prepared", "tune_malloc"]
