"""The JPEG-grid ratio of ``benchmarks.real_photos`` and what the shipped default does to a blocky JPEG.

A BSD100 photo, downscaled 4x and saved as a JPEG at quality 25 in the test, has visible 8x8 blocks: the grid
ratio (luma steps on the block edges over steps elsewhere) separates it from its clean source, and after 4x
upscaling the blocks sit on every 32nd output line, where bicubic keeps them and the shipped default
(``real`` at ``sr_core.detail.DEFAULT_DETAIL``) must remove most of them: of the ratio's excess over 1.0 (no
grid), at most a third may remain.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from sr_core import config, has_weights, upscale_tensor
from sr_core.io import to_tensor

from benchmarks.real_photos import grain_level, grid_ratio, mesh_level, noise_sigma


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    path = config.benchmark_dir("BSD100") / "img_004.png"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    with Image.open(path) as im:
        hr = im.convert("RGB")
    return hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)


def test_grid_ratio_separates_a_blocky_jpeg_from_its_source(photo):
    clean, blocky = grid_ratio(photo, 8), grid_ratio(_jpeg(photo, 25), 8)
    assert 0.8 < clean < 1.15
    assert blocky > clean + 0.25


def test_grid_ratio_finds_the_blocks_of_an_upscaled_jpeg_on_every_32nd_line(photo):
    def up(img):
        return img.resize((img.width * 4, img.height * 4), Image.BICUBIC)

    blocky = _jpeg(photo, 25)
    assert grid_ratio(up(blocky)) > grid_ratio(up(photo)) + 0.2
    # the same blocks shifted off the 32-px grid are not counted
    shifted = np.asarray(up(blocky))[13:, 13:]
    assert grid_ratio(shifted) < grid_ratio(up(blocky)) - 0.2


def test_grid_ratio_refuses_an_image_without_grid_lines():
    with pytest.raises(ValueError, match="too small"):
        grid_ratio(np.zeros((20, 20, 3)), 32)


def test_noise_estimate_reads_the_sigma_of_added_noise():
    rng = np.random.default_rng(0)
    flat = np.full((200, 200, 3), 128.0)
    for sigma in (2.0, 10.0):
        noisy = flat + rng.normal(0, sigma, flat.shape[:2])[..., None]  # the same noise in R, G and B: luma sigma
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.15)


def test_mesh_level_finds_a_pattern_repeated_on_every_input_pixel_and_not_image_content(photo):
    up = photo.resize((photo.width * 4, photo.height * 4), Image.BICUBIC)
    clean = np.asarray(up, dtype=np.float64)
    # a diamond pattern of period 4 (one input pixel at 4x), 2 levels in amplitude, as a 4x GAN draws it
    i, j = np.indices(clean.shape[:2])
    diamond = 2.0 * np.cos(np.pi * (i + j) / 2) * np.cos(np.pi * (i - j) / 2)
    meshed = clean + diamond[..., None]
    assert mesh_level(clean) < 0.05  # bicubic content has no pattern locked to the input's pixels
    assert mesh_level(meshed) > 0.5 > mesh_level(clean) + 0.4
    shifted = np.roll(clean, 2, axis=1)  # content moved by half an input pixel: still no locked pattern
    assert mesh_level(shifted) < 0.05
    with pytest.raises(ValueError, match="too small"):
        mesh_level(np.zeros((3, 3, 3)))


def test_grain_level_finds_speckle_on_flat_areas_that_the_mesh_level_misses(photo):
    up = photo.resize((photo.width * 4, photo.height * 4), Image.BICUBIC)
    clean = np.asarray(up, dtype=np.float64)
    # sharpened noise: 1-px speckle of 3 levels, random, so not locked to the input's pixels
    speckle = np.random.default_rng(0).normal(0, 3.0, clean.shape[:2])[..., None]
    grainy = clean + speckle
    assert grain_level(grainy) > grain_level(clean) + 1.5
    assert mesh_level(grainy) < 0.2  # the mesh level averages random speckle away
    assert grain_level(np.full((64, 64, 3), 100.0)) < 1e-6  # flat grey: no grain at all
    with pytest.raises(ValueError, match="too small"):
        grain_level(np.zeros((8, 8, 3)))


@pytest.mark.skipif(not (has_weights("real") and has_weights("real-psnr")), reason="real weights absent")
def test_the_shipped_default_removes_most_of_the_jpeg_grid(photo):
    from sr_core import load_model
    from sr_core.detail import DEFAULT_DETAIL

    blocky = to_tensor(_jpeg(photo, 25))
    bicubic = torch.nn.functional.interpolate(blocky, scale_factor=4, mode="bicubic", align_corners=False)
    with torch.no_grad():
        sr = upscale_tensor(load_model("real", detail=DEFAULT_DETAIL), blocky, tile=0)
    excess_bicubic, excess_sr = grid_ratio(bicubic.clamp(0, 1)) - 1, grid_ratio(sr) - 1
    assert excess_bicubic > 0.3
    # "most": at most a third of bicubic's excess step on the block edges is left (measured: 0.15 of 0.59)
    assert excess_sr < excess_bicubic / 3, (excess_sr, excess_bicubic)
