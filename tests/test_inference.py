"""Tiled inference agrees with whole-image inference; ``upscale`` keeps what an image is (alpha,
greyscale, 16 bits, orientation)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from conftest import _tiny_srresnet, smooth_rgb
from sr_core import load_model, upscale, upscale_tensor
from sr_core.inference import _grid, _ramp, auto_dtype, auto_tile_size
from sr_core.io import to_tensor
from sr_core.metrics import psnr


def _tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(smooth_rgb(width, height, seed)).permute(2, 0, 1)[None].float() / 255


MODELS = {
    # a random SRResNet whose residual is large (about 15 grey levels): tiling errors would show
    "srresnet": lambda: _tiny_srresnet(tail_gain=1.0),
    "bicubic": lambda: load_model("bicubic"),
}


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("size,tile,overlap", [
    ((53, 37), 24, 8),     # tiles in both directions, last tiles shifted back to the edge
    ((53, 37), 40, 16),    # one row of tiles (37 < 40), the default overlap
    ((37, 61), 33, 10),    # tall image, odd tile
    ((70, 20), 28, 12),    # wide strip
], ids=["53x37-t24", "53x37-t40", "37x61-t33", "70x20-t28"])
def test_tiled_matches_whole_image(model_name, size, tile, overlap):
    model = MODELS[model_name]()
    x = _tensor(*size)
    whole = upscale_tensor(model, x, tile=0)
    calls = []
    tiled = upscale_tensor(model, x, tile=tile, tile_overlap=overlap, progress=lambda d, t: calls.append((d, t)))
    assert tiled.shape == whole.shape == (1, 3, size[1] * 4, size[0] * 4)
    assert len(calls) > 1  # really tiled
    assert whole.std() > 0.1  # real content, neither flat nor saturated
    assert psnr(tiled, whole, y_channel=False).item() > 45
    assert (tiled - whole).abs().mean().item() < 1 / 255


def test_image_smaller_than_tile_is_not_tiled():
    model = _tiny_srresnet(tail_gain=1.0)
    x = _tensor(19, 13)
    calls = []
    out = upscale_tensor(model, x, tile=64, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)]
    assert torch.equal(out, upscale_tensor(model, x, tile=0))


def test_progress_reports_done_and_total():
    model = load_model("bicubic")
    calls = []
    upscale_tensor(model, _tensor(50, 30), tile=20, tile_overlap=4, progress=lambda d, t: calls.append((d, t)))
    total = calls[0][1]
    assert total == 3 * 2  # x starts 0, 16, 30; y starts 0, 10
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_output_is_clamped_cpu_float32():
    model = load_model("bicubic")
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1  # a hard edge: bicubic would overshoot without clamping
    out = upscale_tensor(model, x, tile=0)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert out.min() >= 0 and out.max() <= 1


def test_invalid_tiling_arguments():
    model = load_model("bicubic")
    with pytest.raises(ValueError, match="overlap"):
        upscale_tensor(model, _tensor(40, 40), tile=16, tile_overlap=8)
    with pytest.raises(ValueError):
        upscale_tensor(model, torch.rand(2, 3, 8, 8), tile=0)
    with pytest.raises(ValueError):
        upscale_tensor(model, torch.rand(3, 8, 8), tile=0)


def test_auto_tile_size_is_bounded():
    model = _tiny_srresnet()
    assert auto_tile_size(model, budget=1) == 64
    assert auto_tile_size(model, budget=2 ** 40) == 1024
    side = auto_tile_size(model, budget=200 * 2 ** 20)
    assert 64 <= side <= 1024 and side % 8 == 0
    assert auto_tile_size(model) >= 64


# --- PIL images ---------------------------------------------------------------------------------

def test_rgb_image_matches_tensor_path(bicubic, rgb_image):
    out = upscale(bicubic, rgb_image)
    assert out.mode == "RGB" and out.size == (rgb_image.width * 4, rgb_image.height * 4)
    expected = upscale_tensor(bicubic, to_tensor(rgb_image), tile=0)
    ours = torch.from_numpy(np.array(out)).permute(2, 0, 1)[None].float() / 255
    assert (ours - expected).abs().max() <= 0.5 / 255 + 1e-6


def test_bicubic_matches_pillow(bicubic, rgb_image):
    out = np.asarray(upscale(bicubic, rgb_image)).astype(int)
    ref = np.asarray(rgb_image.resize((rgb_image.width * 4, rgb_image.height * 4), Image.BICUBIC)).astype(int)
    assert np.abs(out - ref).max() <= 1


def test_rgba_keeps_upscaled_alpha(bicubic, rgb_image):
    # no alpha 0 here: fully transparent pixels get their neighbours' colour first (tests/test_transparency.py)
    alpha = Image.fromarray(np.tile(np.linspace(1, 255, rgb_image.width).astype(np.uint8), (rgb_image.height, 1)))
    rgba = rgb_image.copy()
    rgba.putalpha(alpha)
    out = upscale(bicubic, rgba)
    assert out.mode == "RGBA" and out.size == (rgba.width * 4, rgba.height * 4)
    expected_alpha = np.asarray(alpha.resize(out.size, Image.BICUBIC)).astype(int)
    assert np.abs(np.asarray(out.getchannel("A")).astype(int) - expected_alpha).max() <= 1
    colour = np.asarray(out.convert("RGB")).astype(int)
    assert np.abs(colour - np.asarray(upscale(bicubic, rgb_image)).astype(int)).max() <= 1


def test_la_keeps_alpha_and_stays_grey(bicubic, rgb_image):
    la = rgb_image.convert("LA")
    la.putalpha(128)
    out = upscale(bicubic, la)
    assert out.mode == "LA" and out.size == (la.width * 4, la.height * 4)
    assert set(np.unique(np.asarray(out.getchannel("A")))) == {128}


def test_greyscale_stays_greyscale(bicubic, rgb_image):
    grey = rgb_image.convert("L")
    out = upscale(bicubic, grey)
    assert out.mode == "L" and out.size == (grey.width * 4, grey.height * 4)
    ref = np.asarray(grey.resize(out.size, Image.BICUBIC)).astype(int)
    assert np.abs(np.asarray(out).astype(int) - ref).max() <= 1


def test_greyscale_through_a_network(tiny_srresnet, rgb_image):
    out = upscale(tiny_srresnet, rgb_image.convert("L"))
    assert out.mode == "L" and out.size == (rgb_image.width * 4, rgb_image.height * 4)


def test_palette_with_transparency_becomes_rgba(bicubic):
    idx = np.zeros((10, 12), np.uint8)
    idx[:, 6:] = 1
    idx[3:7, 3:9] = 2
    p = Image.fromarray(idx, "P")
    p.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0] + [0] * 759)
    p.info["transparency"] = 2  # the green square is transparent
    out = upscale(bicubic, p)
    assert out.mode == "RGBA" and out.size == (48, 40)
    alpha = np.asarray(out.getchannel("A"))
    assert alpha[20, 24] == 0 and alpha[2, 2] == 255 and alpha[38, 46] == 255
    rgb = np.asarray(out.convert("RGB")).astype(int)
    assert rgb[2, 2, 0] > 200 and rgb[2, 2, 2] < 50  # red left
    assert rgb[38, 46, 2] > 200 and rgb[38, 46, 0] < 50  # blue right


def test_palette_without_transparency_becomes_rgb(bicubic, rgb_image):
    p = rgb_image.convert("P", palette=Image.ADAPTIVE, colors=8)
    out = upscale(bicubic, p)
    assert out.mode == "RGB" and out.size == (p.width * 4, p.height * 4)


def test_16_bit_greyscale_stays_16_bit(bicubic):
    ramp = np.linspace(1000, 64000, 15 * 11).reshape(11, 15).astype(np.uint16)
    ramp[:, 7:] += 7  # values off the 8-bit grid (multiples of 257)
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    data = io.BytesIO()
    img.save(data, "PNG")
    out = upscale(bicubic, Image.open(io.BytesIO(data.getvalue())))
    assert out.mode == "I;16" and out.size == (60, 44)
    arr = np.asarray(out).astype(np.int64)
    assert len(np.unique(arr % 257)) > 50  # not squeezed through 8 bits
    expected = upscale_tensor(bicubic, torch.from_numpy(ramp.astype(np.float32) / 65535)[None, None].expand(1, 3, -1, -1),
                              tile=0)[0, 0].numpy() * 65535
    assert np.abs(arr - expected).max() <= 1.5


def test_exif_orientation_is_applied(bicubic):
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:, :8] = (255, 0, 0)  # left half red
    stored[:, 8:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: the left half ends up on top
    data = io.BytesIO()
    Image.fromarray(stored).save(data, "JPEG", exif=exif, quality=95)
    img = Image.open(io.BytesIO(data.getvalue()))
    assert img.size == (16, 8)
    out = upscale(bicubic, img)
    assert out.size == (8 * 4, 16 * 4)
    arr = np.asarray(out).astype(int)
    assert arr[:24, :, 0].mean() > 200 and arr[:24, :, 2].mean() < 60   # top red
    assert arr[-24:, :, 2].mean() > 200 and arr[-24:, :, 0].mean() < 60  # bottom blue
    # a path input gets the same treatment, and the transposed image is not rotated twice
    displayed = ImageOps.exif_transpose(img)
    assert upscale(bicubic, displayed).size == (32, 64)


def test_one_pixel_image(bicubic, tiny_srresnet):
    for model in (bicubic, tiny_srresnet):
        for mode, colour in (("RGB", (10, 200, 30)), ("L", 77), ("RGBA", (1, 2, 3, 40))):
            out = upscale(model, Image.new(mode, (1, 1), colour))
            assert out.size == (4, 4) and out.mode == mode
    out = np.asarray(upscale(bicubic, Image.new("RGB", (1, 1), (10, 200, 30))))
    assert (out == np.array([10, 200, 30], np.uint8)).all()


def test_upscale_progress_and_path_input(bicubic, tmp_path, make_rgb):
    path = tmp_path / "in.png"
    make_rgb(50, 30).save(path)
    calls = []
    out = upscale(bicubic, str(path), tile=20, tile_overlap=4, progress=lambda d, t: calls.append((d, t)))
    assert out.size == (200, 120)
    assert calls[-1][0] == calls[-1][1] == len(calls) > 1
    out_whole = upscale(bicubic, path, tile=0)
    assert np.abs(np.asarray(out).astype(int) - np.asarray(out_whole).astype(int)).mean() < 1


def test_upscale_max_pixels(bicubic, make_rgb):
    from sr_core import ImageLoadError

    with pytest.raises(ImageLoadError, match="limit"):
        upscale(bicubic, make_rgb(20, 20), max_pixels=399)
    assert upscale(bicubic, make_rgb(20, 20), max_pixels=400).size == (80, 80)


@pytest.mark.parametrize("mode,expected", [("RGBa", "RGBA"), ("La", "LA"), ("PA", "RGBA"), ("LAB", "RGB"),
                                           ("HSV", "RGB"), ("YCbCr", "RGB"), ("RGBX", "RGB"), ("1", "RGB"),
                                           ("CMYK", "RGB"), ("I", "I;16"), ("F", "I;16"), ("I;16B", "I;16")])
def test_every_pillow_mode_is_upscaled(bicubic, mode, expected):
    """Modes straight from Pillow (premultiplied alpha included) come out as RGB(A), L(A) or 16-bit grey."""
    img = Image.new(mode, (3, 2))
    out = upscale(bicubic, img)
    assert out.mode == expected and out.size == (12, 8)


def test_premultiplied_alpha_is_unpremultiplied(bicubic):
    img = Image.new("RGBA", (2, 2), (200, 100, 50, 128)).convert("RGBa")
    out = upscale(bicubic, img)
    r, g, b, a = out.getpixel((3, 3))
    assert abs(a - 128) <= 1 and abs(r - 200) <= 2 and abs(g - 100) <= 2 and abs(b - 50) <= 2


@pytest.mark.parametrize("size,tile,overlap", [(1024, 232, 16), (384, 312, 16), (100, 64, 16), (233, 232, 16),
                                               (65, 64, 16), (34, 33, 16), (1001, 1000, 16), (57, 20, 4)])
def test_grid_uses_the_fewest_equal_tiles_spread_evenly(size, tile, overlap):
    length, starts = _grid(size, tile, overlap)
    n = len(starts)
    assert starts[0] == 0 and starts[-1] + length == size and length <= tile  # covers the side, tiles fit the cap
    assert all(overlap <= a + length - b for a, b in zip(starts, starts[1:]))  # neighbours overlap enough
    assert n == 1 or n - 1 < (size - overlap) / (tile - overlap)               # one tile fewer would not cover
    assert n == 1 or n * (length - 1) - (n - 1) * overlap < size               # shorter equal tiles would not
    steps = {b - a for a, b in zip(starts, starts[1:])}
    assert len(steps) <= 2 and (len(steps) < 2 or max(steps) - min(steps) == 1)  # spread evenly


def test_blend_windows_of_an_exact_overlap_sum_to_one_and_skip_the_padded_edge():
    ramp = 16
    out_w, in_w = _ramp(40, ramp, False, True)[-ramp:], _ramp(40, ramp, True, False)[:ramp]
    assert torch.allclose(out_w + in_w, torch.ones(ramp))
    assert (in_w[:ramp // 4] == 0).all() and (in_w[ramp // 4:] > 0).all()


@pytest.mark.parametrize("amx,avx512_bf16", [(True, False), (False, True), (False, False)])
def test_auto_precision_is_bfloat16_only_on_cpus_with_native_bfloat16(monkeypatch, amx, avx512_bf16):
    from sr_core import inference

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(inference, "has_avx512_bf16", lambda: avx512_bf16)
    native = amx or avx512_bf16
    assert auto_dtype(torch.device("cpu")) == (torch.bfloat16 if native else None)
    assert auto_dtype(torch.device("cuda")) == torch.float16
    model = _tiny_srresnet()
    x = _tensor(24, 20)
    auto, plain = upscale_tensor(model, x, dtype="auto"), upscale_tensor(model, x)
    if native:
        assert torch.equal(auto, upscale_tensor(model, x, dtype=torch.bfloat16))
    else:
        assert torch.equal(auto, plain)
    assert (auto - plain).abs().max().item() < 8 / 255  # bfloat16 convolutions stay within a few grey levels


def test_avx512_bf16_is_read_from_the_cpu_flags():
    from sr_core.inference import has_avx512_bf16

    amd = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    assert has_avx512_bf16(amd)
    assert not has_avx512_bf16("flags\t\t: fpu sse2 avx2 avx512f avx512bw\nbugs\t\t: avx512_bf16\n")
    assert not has_avx512_bf16("")
