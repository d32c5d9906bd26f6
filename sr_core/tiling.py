"""The tile loop and the image path every backend shares, on numpy arrays (no torch).

A *backend* is a function from a batch of LR tiles to their SR tiles: float32 (B, 3, h, w) RGB in [0, 1] ->
float32 (B, 3, s*h, s*w) clamped to [0, 1]. ``sr_core.inference`` wraps a torch network as one (its dtype,
autocast and optimised copy included); ``sr_core.backends`` wraps an ONNX Runtime session. Large inputs are
cut into overlapping tiles; each tile's output is weighted by a window that ramps linearly across the overlap,
so neighbouring tiles fade into each other and no seam shows.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from .io import array_to_image, fill_transparent, open_image, split_alpha, to_array

Backend = Callable[[np.ndarray], np.ndarray]
ProgressFn = Callable[[int, int], None]

DEFAULT_OVERLAP = 16
ROWS_PER_CONVERSION = 128  # output rows converted to 8 bits at a time by upscale_image


def cpu_available_memory() -> int:
    """Bytes that can be allocated now (MemAvailable on Linux; 4 GiB where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2 ** 30


def estimate_bytes_per_input_pixel(arch: str | None, scale: int, features: int = 64) -> int:
    """Peak memory of one float32 forward pass per input pixel of an architecture (``srresnet``, ``srcnn``,
    ``interpolation``; anything else: a generous guess); see :func:`sr_core.inference.bytes_per_input_pixel`."""
    outputs = 4 * 3 * scale * scale * 4  # output, bicubic skip, their sum, the clamped copy
    if arch == "srresnet":
        return int(4 * features * (2.25 * scale * scale + 4)) + outputs
    if arch == "srcnn":
        return 4 * scale * scale * (2 * features + 12)
    if arch == "interpolation":
        return 4 * 3 * scale * scale * 6
    # anything else (e.g. a peer network working at output resolution): a generous guess
    return 4 * features * (8 + 6 * scale * scale)


def tile_for_budget(budget: int, bytes_per_input_pixel: int, batch_size: int = 1) -> int:
    """Largest square tile side (a multiple of 8, 64 to 1024) whose forward passes fit in ``budget`` bytes."""
    side = int(math.sqrt(budget / max(1, batch_size) / bytes_per_input_pixel))
    return max(64, min(side // 8 * 8, 1024))


def grid(size: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """Tile length and start offsets along one axis: the fewest tiles of at most ``tile`` pixels that overlap by
    at least ``overlap``, made equal and spread evenly, so no tile is mostly a repeat of its neighbour.

    (Tiles of exactly ``tile`` pixels with the last one pushed back to the edge compute the overlap twice over:
    a 384 px side in 312 px tiles ran 624 px through the network; two even 200 px tiles run 400.)
    """
    if size <= tile:
        return size, [0]
    n = -(-(size - overlap) // (tile - overlap))        # ceil: tiles needed at full length
    length = -(-(size + (n - 1) * overlap) // n)        # ceil: the shortest equal length that still covers
    return length, [round(i * (size - length) / (n - 1)) for i in range(n)]


def ramp(length: int, ramp_len: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """1-D float32 blending window: 1 inside; at each faded end, over the ``ramp_len`` samples of the overlap,
    0 for the outer quarter (where the tile's zero padding is nearest), a linear ramp over the middle half.

    Two tiles overlapping by exactly ``ramp_len`` samples have weights summing to 1; a pixel the blend keeps
    from a tile always has a quarter of the overlap of real context on that side.
    """
    w = np.ones(length, np.float32)
    if ramp_len > 0:
        r = np.clip((np.arange(ramp_len, dtype=np.float32) + np.float32(0.5) - np.float32(ramp_len / 4))
                    / np.float32(ramp_len / 2), 0, 1)
        if fade_in:
            w[:ramp_len] = np.minimum(w[:ramp_len], r)
        if fade_out:
            w[-ramp_len:] = np.minimum(w[-ramp_len:], r[::-1])
    return w


def bands(run: Backend, x: np.ndarray, scale: int, tile: int, tile_overlap: int, batch_size: int = 1,
          progress: ProgressFn | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(row, band)``: finished output rows ``row .. row + band.shape[2]`` as (1, C, rows, s*W) float32.

    ``tile == 0`` or an image within one tile: one pass, one band. Otherwise tiles go through ``run``
    ``batch_size`` at a time (they all have the same size); each one is weighted by its blending window and
    added to an accumulator that spans only the output rows some unfinished tile still touches. As soon as a
    row of tiles is done, the rows above the next one are normalised and handed out, so memory holds one
    band, never the whole float output.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"upscale_tensor takes a (1, C, H, W) tensor, got {tuple(x.shape)}")
    _, c, h, w = x.shape
    if tile == 0 or (h <= tile and w <= tile):
        out = run(x)
        if progress:
            progress(1, 1)
        yield 0, out
        return
    if tile <= 2 * tile_overlap:
        raise ValueError(f"tile ({tile}) must be larger than twice the overlap ({tile_overlap})")
    (th, ys), (tw, xs) = grid(h, tile, tile_overlap), grid(w, tile, tile_overlap)
    ramp_len = tile_overlap * scale
    win_y = {y0: ramp(th * scale, ramp_len, y0 > 0, y0 + th < h) for y0 in ys}
    win_x = {x0: ramp(tw * scale, ramp_len, x0 > 0, x0 + tw < w) for x0 in xs}
    tiles = [(y0, x0) for y0 in ys for x0 in xs]
    left = {y0: len(xs) for y0 in ys}  # tiles still to do in each row of tiles
    lo = 0                             # first output row held by the accumulator
    acc = np.zeros((1, c, 0, w * scale), np.float32)
    weight = np.zeros((1, 1, 0, w * scale), np.float32)
    for i in range(0, len(tiles), max(1, batch_size)):
        chunk = tiles[i:i + max(1, batch_size)]
        sr = run(np.concatenate([x[:, :, y0:y0 + th, x0:x0 + tw] for y0, x0 in chunk]))  # (B, C, s*th, s*tw)
        for k, ((y0, x0), out) in enumerate(zip(chunk, sr)):
            oy, ox, end = y0 * scale, x0 * scale, (y0 + th) * scale
            if end - lo > acc.shape[2]:
                grow = end - lo - acc.shape[2]
                acc = np.concatenate([acc, np.zeros((1, c, grow, w * scale), np.float32)], 2)
                weight = np.concatenate([weight, np.zeros((1, 1, grow, w * scale), np.float32)], 2)
            win = win_y[y0][:, None] * win_x[x0][None, :]
            acc[0, :, oy - lo:end - lo, ox:ox + tw * scale] += out * win
            weight[0, 0, oy - lo:end - lo, ox:ox + tw * scale] += win
            left[y0] -= 1
            if progress:
                progress(i + k + 1, len(tiles))
        pending = [y0 for y0 in ys if left[y0]]
        final = pending[0] * scale if pending else h * scale
        if final > lo:
            n = final - lo
            yield lo, np.divide(acc[:, :, :n], weight[:, :, :n], out=acc[:, :, :n])
            acc, weight, lo = acc[:, :, n:].copy(), weight[:, :, n:].copy(), final


def upscale_array(run: Backend, x: np.ndarray, scale: int, tile: int, tile_overlap: int = DEFAULT_OVERLAP,
                  batch_size: int = 1, progress: ProgressFn | None = None) -> np.ndarray:
    """The whole (1, C, s*H, s*W) float32 output of :func:`bands`."""
    out = None
    for row, band in bands(run, x, scale, tile, tile_overlap, batch_size, progress):
        if out is None:
            if row == 0 and band.shape[2] == x.shape[2] * scale:
                return band  # one piece: the whole image
            out = np.empty((1, band.shape[1], x.shape[2] * scale, x.shape[3] * scale), np.float32)
        out[:, :, row:row + band.shape[2]] = band
    return out


def upscale_image(run: Backend, scale: int, image: Image.Image | str, tile: int, tile_overlap: int = DEFAULT_OVERLAP,
                  progress: ProgressFn | None = None, max_pixels: int | None = None, batch_size: int = 1,
                  rows_per_conversion: int = ROWS_PER_CONVERSION) -> Image.Image:
    """Upscale a PIL image (or a path) with ``run``; see :func:`sr_core.upscale` for what happens to alpha,
    greyscale, 16-bit and EXIF orientation.

    The output is assembled band by band (rows of tiles converted to 8 or 16 bits as soon as they are final),
    so a 2048 x 2048 input at 4x never holds the 8192 x 8192 float32 image (0.8 GB) in memory.
    """
    img = open_image(image, max_pixels=max_pixels)
    colour, alpha = split_alpha(img)
    if alpha is not None:
        colour = fill_transparent(colour, alpha)
    out = None
    for row, band in bands(run, to_array(colour), scale, tile, tile_overlap, batch_size, progress):
        # to 8 bits a few rows at a time: the float temporaries stay small (a whole band of a 2048 px
        # photo's output is 88 MB of float32, and each temporary would be as large)
        for r in range(0, band.shape[2], rows_per_conversion):
            part = array_to_image(band[:, :, r:r + rows_per_conversion], colour.mode)
            if out is None:
                out = Image.new(part.mode, (colour.width * scale, colour.height * scale))
            out.paste(part, (0, row + r))
        del band, part
    if alpha is not None:
        alpha = alpha.resize(out.size, Image.BICUBIC)
        out = Image.merge("RGBA", (*out.convert("RGB").split(), alpha)) if colour.mode != "L" \
            else Image.merge("LA", (out, alpha))
    assert out.size == (img.width * scale, img.height * scale)
    return out


def resize_to_outscale(out, src_size: tuple[int, int], outscale: float | None, model_scale: int):
    """The model's output resized to ``outscale`` times the input size (Lanczos), as Real-ESRGAN's
    ``--outscale``; unchanged when ``outscale`` is None or the model's own scale."""
    if outscale is None or outscale == model_scale:
        return out
    size = (max(1, round(src_size[0] * outscale)), max(1, round(src_size[1] * outscale)))
    return out.resize(size, Image.Resampling.LANCZOS) if out.size != size else out


__all__ = ["Backend", "resize_to_outscale", "estimate_bytes_per_input_pixel", "bands", "grid", "ramp", "upscale_array", "upscale_image", "tile_for_budget",
           "cpu_available_memory", "DEFAULT_OVERLAP"]
