"""The "detail" control of ``real``: its output mixed with ``real-psnr``'s.

``detail`` runs from 0 (``real-psnr``: pixel loss, clean, a little soft) to 1 (``real``, its GAN fine-tune:
sharper, with synthesised texture). In between, both networks run on the same input and their outputs are mixed
pixel by pixel, ``(1 - detail) * real_psnr(x) + detail * real(x)`` (:class:`sr_core.nets.blend.DetailBlend`;
the ONNX backend's ``OnnxBlend``). That costs two forward passes.

Until December 2026 the control blended the two networks weight by weight instead (ESRGAN's network
interpolation, Wang et al. 2018, section 3.4; Real-ESRGAN's ``--denoise_strength``), one forward pass. That
works for two networks that stay close, and ours did not: after 9,000 more GAN iterations the weight blends of
0.7 and 0.8 left more JPEG grid (ratio 1.167 on the cat/dog training photos) than either end (1.110,
``reports/real_detail_blend_9317``), where the output mix lies between its ends (``reports/real_detail_blend``).
:func:`interpolate` keeps the weight blend for such comparisons (``benchmarks.real_photos --blend``). Blends are
cached per (pair, detail, device), so a value is built once, not per image or per tile; ``detail`` is rounded
to ``DETAIL_STEP``.

Loading goes through the library's one resolver, :func:`sr_core.load_model`::

    >>> model = sr_core.load_model("real@0.3")    # doctest: +SKIP
    >>> model = sr_core.load_model("real", detail=0.3)    # doctest: +SKIP

This module holds the arithmetic and the checks only; it loads nothing.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a network is blended: the constants here serve the light install too
    import torch
    from torch import nn

# textured model -> its smooth (pixel-loss) start
DETAIL_PAIRS = {"real": "real-psnr"}
# the default, chosen on the native-size cat/dog *training* JPEGs (python -m benchmarks.real_photos --split train
# --mix ..., reports/real_detail_blend; never on the val photos that the report uses): real (12,000 CPU GAN
# iterations) mixed with real-psnr at 0.5 scored NIQE 6.06, JPEG grid 1.072, grain 0.65 (the peer: 6.14, 1.072,
# 0.78); 0.4 and 0.3 are cleaner and less natural (NIQE 6.42, 6.92), 1 leaves a fine grain on flat areas (1.26)
DEFAULT_DETAIL = 0.5
DETAIL_STEP = 0.05     # values are rounded to this grid (the app's slider step): a bounded cache


def check_detail(name: str, detail: float | None) -> float:
    """``detail`` rounded to the grid (None: ``DEFAULT_DETAIL``); raises ``ValueError`` for a model without a
    pair or a value outside [0, 1]."""
    if detail is None:
        detail = DEFAULT_DETAIL
    if name not in DETAIL_PAIRS:
        raise ValueError(f"detail works with {', '.join(DETAIL_PAIRS)} only (blending it with "
                         f"{', '.join(DETAIL_PAIRS.values())}), not with {name!r}")
    try:
        detail = float(detail)
    except (TypeError, ValueError):
        raise ValueError(f"detail must be a number from 0 to 1, got {detail!r}") from None
    if not 0.0 <= detail <= 1.0:  # also refuses NaN
        raise ValueError(f"detail must lie between 0 (smooth, {DETAIL_PAIRS[name]}) and 1 ({name}), got {detail}")
    return round(round(detail / DETAIL_STEP) * DETAIL_STEP, 4)


def _merged(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model).eval()
    if hasattr(out, "reparameterize"):
        out.reparameterize()
    return out


def interpolate(smooth: nn.Module, textured: nn.Module, detail: float) -> nn.Module:
    """A new network whose weights are ``(1 - detail) * smooth + detail * textured`` (merged forms of both).

    The two must be the same architecture with the same settings; the result carries ``textured``'s config
    with ``detail`` added.
    """
    import torch

    with torch.no_grad():
        a, b = _merged(smooth), _merged(textured)
        sa, sb = a.state_dict(), b.state_dict()
        if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
            raise ValueError("cannot interpolate networks of different architectures or sizes")
        blended = {k: torch.lerp(sa[k].float(), sb[k].float(), float(detail)).to(sa[k].dtype)
                   if sa[k].is_floating_point() else sb[k] for k in sa}
        b.load_state_dict(blended)
    b.config = blend_config(dict(getattr(textured, "config", {}) or {}),
                            getattr(smooth, "config", {}).get("name", "smooth"), detail)
    return b


def blend_config(textured: dict, smooth_name: str, detail: float) -> dict:
    """The config of a blend: ``textured``'s own, with ``detail`` and ``detail_pair`` (smooth, textured) added."""
    return {**textured, "detail": float(detail), "detail_pair": [str(smooth_name), textured.get("name", "textured")]}


def detail_label(name: str, detail: float | None) -> str:
    """``name`` for output file names, with ``-detail0.30`` added when the (rounded) value is not the default."""
    value = check_detail(name, detail)
    return name if value == DEFAULT_DETAIL else f"{name}-detail{value:.2f}"


def split_name(name: str) -> tuple[str, float | None]:
    """``"real@0.3"`` -> ``("real", 0.3)``; any other name or path -> ``(name, None)``.

    A path (``/`` or ``\\`` in it) or a text after ``@`` that is no number is left whole (a file may be
    called ``a@b.pth``).
    """
    name = str(name)
    base, sep, value = name.rpartition("@")
    if not sep or not base or "/" in name or "\\" in name:
        return name, None
    try:
        return base, float(value)
    except ValueError:
        return name, None


def detail_for(name: str, detail: float | None) -> float | None:
    """The detail a model name means where a person picks it (the CLI, the app): ``detail`` checked and
    rounded when given; ``DEFAULT_DETAIL`` for a pair's textured model (``real``); None (no blend) for any
    other model. Raises ``ValueError`` for a detail given to a model without a pair."""
    if detail is None and name not in DETAIL_PAIRS:
        return None
    return check_detail(name, detail)


__all__ = ["DETAIL_PAIRS", "DEFAULT_DETAIL", "DETAIL_STEP", "blend_config", "check_detail", "detail_for", "detail_label",
           "interpolate", "split_name"]
