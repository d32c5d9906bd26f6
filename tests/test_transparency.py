"""Transparent images: the colour under alpha 0 must not bleed into the visible edge (issue 26, item 5).

A logo with transparent edges is typically stored with black (or any) RGB where alpha is 0. Upscaled as
is, the network (or even bicubic) mixes that colour into the antialiased edge, which then shows a grey or
dark fringe over a light background (Real-ESRGAN issues #291, #325).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sr_core
from sr_core.io import fill_transparent

LOGO_RGB = (220, 60, 30)


def logo(size: int = 40, radius: float = 13.0) -> Image.Image:
    """An orange disc with an antialiased edge on a fully transparent background whose RGB is black."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dist = np.hypot(xx - size / 2, yy - size / 2)
    alpha = np.clip(radius + 0.5 - dist, 0, 1)  # 1 inside, a one-pixel ramp, 0 outside
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[alpha > 0, :3] = LOGO_RGB
    rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def edge_error(out: Image.Image) -> float:
    """The largest distance (8-bit levels) from the logo's colour among visible output pixels (alpha >= 16)."""
    arr = np.asarray(out.convert("RGBA")).astype(np.int16)
    visible = arr[..., 3] >= 16
    return float(np.abs(arr[visible, :3] - np.array(LOGO_RGB)).max())


def test_fill_transparent_takes_the_nearest_visible_colour_and_keeps_visible_pixels():
    img = logo()
    colour, alpha = img.convert("RGB"), img.getchannel("A")
    filled = np.asarray(fill_transparent(colour, alpha))
    visible = np.asarray(alpha) > 0
    assert np.array_equal(filled[visible], np.asarray(colour)[visible])  # visible pixels untouched
    assert np.abs(filled.astype(int) - LOGO_RGB).max() <= 1  # the black under alpha 0 is gone everywhere
    # two colours: each hole takes the colour of the side it is nearer to
    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[:, 0] = (255, 0, 0)
    rgb[:, 15] = (0, 0, 255)
    a = np.zeros((8, 16), np.uint8)
    a[:, [0, 15]] = 255
    out = np.asarray(fill_transparent(Image.fromarray(rgb), Image.fromarray(a)))
    assert (out[:, 1:4, 0] > 200).all() and (out[:, 12:15, 2] > 200).all()


def test_fill_transparent_leaves_opaque_and_empty_images_alone():
    rgb = Image.new("RGB", (6, 5), (1, 2, 3))
    assert fill_transparent(rgb, Image.new("L", (6, 5), 255)) is rgb
    assert fill_transparent(rgb, Image.new("L", (6, 5), 0)) is rgb  # nothing visible to take a colour from


@pytest.mark.parametrize("model_name", ["bicubic", "lanczos"])
def test_transparent_logo_gets_no_dark_fringe(model_name):
    out = sr_core.upscale(sr_core.load_model(model_name), logo(), tile=0)
    assert out.mode == "RGBA" and out.size == (160, 160)
    assert edge_error(out) <= 6, edge_error(out)  # without the fill: about 200 levels off at the edge


def test_transparent_logo_through_a_shipped_network_gets_no_dark_fringe():
    if not sr_core.has_weights("fast"):
        pytest.skip("weights/fast is missing")
    out = sr_core.upscale(sr_core.load_model("fast"), logo(), tile=0, dtype="float32")
    assert edge_error(out) <= 6, edge_error(out)  # without the fill: 220 levels off at the edge
