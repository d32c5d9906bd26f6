"""``sr_core.resize.resize`` reproduces Pillow's ``Image.resize`` (the project's reference resampler)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_rgb
from sr_core.resize import resize

FILTERS = {"bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS, "nearest": Image.NEAREST}

SIZES = [  # (in w, in h) -> (out w, out h): up, down, mixed, odd, tiny
    ((17, 13), (68, 52)),
    ((17, 13), (34, 39)),
    ((31, 23), (10, 7)),
    ((50, 50), (13, 29)),
    ((40, 3), (9, 12)),
    ((3, 40), (12, 9)),
    ((7, 5), (7, 20)),
    ((9, 11), (9, 11)),
    ((1, 1), (4, 4)),
    ((2, 1), (5, 3)),
    ((33, 21), (11, 7)),
]


def _pillow(arr: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    return np.asarray(Image.fromarray(arr).resize(size, FILTERS[mode])).astype(np.int16)


def _ours(arr: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].double() / 255
    y = resize(x, (size[1], size[0]), mode)
    return torch.round(y.clamp(0, 1) * 255)[0].permute(1, 2, 0).numpy().astype(np.int16)


@pytest.mark.parametrize("mode", list(FILTERS))
@pytest.mark.parametrize("content", ["noise", "smooth"])
@pytest.mark.parametrize("src,dst", SIZES, ids=[f"{a[0]}x{a[1]}-{b[0]}x{b[1]}" for a, b in SIZES])
def test_resize_matches_pillow(mode, content, src, dst):
    """Within one grey level everywhere, also on random noise (the worst case for kernel overshoot)."""
    w, h = src
    if content == "noise":
        arr = np.random.default_rng(w * 100 + h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        arr = smooth_rgb(w, h, seed=w + h)
    diff = np.abs(_ours(arr, dst, mode) - _pillow(arr, dst, mode))
    assert diff.max() <= (0 if mode == "nearest" else 1), f"max difference {diff.max()} grey levels"


@pytest.mark.parametrize("mode", list(FILTERS))
def test_resize_sharp_edges_match_pillow(mode):
    """A black/white checkerboard: the cubic and Lanczos kernels overshoot; Pillow clips after each pass."""
    board = ((np.indices((12, 10)).sum(0) % 2) * 255).astype(np.uint8)
    arr = np.repeat(board[..., None], 3, -1)
    for dst in [(40, 48), (5, 6), (23, 17)]:
        diff = np.abs(_ours(arr, dst, mode) - _pillow(arr, dst, mode))
        assert diff.max() <= 1, (dst, diff.max())


def test_resize_batched_and_channels_independent():
    x = torch.rand(3, 4, 9, 7, dtype=torch.float64)
    y = resize(x, (18, 21), "bicubic")
    assert y.shape == (3, 4, 18, 21)
    for n in range(3):
        for c in range(4):
            assert torch.allclose(y[n, c], resize(x[n:n + 1, c:c + 1], (18, 21), "bicubic")[0, 0])


def test_resize_keeps_dtype_and_identity_size():
    x = torch.rand(1, 3, 6, 5)
    assert resize(x, (12, 10)).dtype == torch.float32
    assert torch.equal(resize(x, (6, 5)), x)


def test_resize_unclipped_range_is_available():
    """``value_range=None`` keeps the kernel overshoot (values outside [0, 1])."""
    x = torch.zeros(1, 1, 8, 8)
    x[..., 4:] = 1.0
    y = resize(x, (32, 32), "bicubic", value_range=None)
    assert y.min() < 0 and y.max() > 1
    clipped = resize(x, (32, 32), "bicubic")
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_resize_invalid_mode():
    with pytest.raises(ValueError, match="mode"):
        resize(torch.rand(1, 3, 4, 4), (8, 8), "bilinear")
