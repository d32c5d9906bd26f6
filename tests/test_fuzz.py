"""Property tests over ``open_image`` + ``upscale``: random sizes, modes, formats and byte corruptions.

For every input the outcome is either a correct upscale (4x the decoded size, in a mode the library
returns) or ``ImageLoadError`` -- never another exception. An input that was not corrupted is never
refused.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import _tiny_srresnet
from sr_core import ImageLoadError, load_model, open_image, upscale

MODES = ("RGB", "L", "LA", "RGBA", "P", "P+transparency", "I;16", "1", "CMYK")
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
OUTPUT_MODES = {"RGB", "L", "LA", "RGBA", "I;16"}
LIMIT = 128 * 128  # max_pixels: a corrupted header may claim any size; keep the work bounded

# SR_FUZZ_EXAMPLES=2000 for a deeper search than the suite's quick one
FUZZ = settings(max_examples=int(os.environ.get("SR_FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MODELS = {"bicubic": load_model("bicubic"), "srresnet": _tiny_srresnet()}


def _make(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    smooth = rng.random() < 0.5  # half the images are smooth (compress well), half noise
    if smooth:
        yy, xx = np.mgrid[0:height, 0:width]
        base = ((base.astype(int) // 8 + (xx * 7 + yy * 5)[..., None]) % 256).astype(np.uint8)
    rgba = Image.fromarray(base, "RGBA")
    if mode == "I;16":
        return Image.fromarray(base[..., 0].astype(np.uint16) * 257 + base[..., 1] % 200)
    if mode == "P+transparency":
        img = rgba.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=16)
        img.info["transparency"] = int(rng.integers(16))
        return img
    if mode == "P":
        return rgba.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=32)
    return rgba.convert(mode)


def _fit(img: Image.Image, fmt: str) -> Image.Image:
    """What each format can store."""
    if fmt == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        return img.convert("RGB")
    if fmt == "PNG" and img.mode == "CMYK":
        return img.convert("RGB")
    if fmt == "WEBP" and img.mode not in ("RGB", "RGBA"):
        return img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
    if fmt == "GIF" and img.mode not in ("P", "L"):
        return img.convert("RGB").convert("P", palette=Image.ADAPTIVE) if img.mode != "1" else img.convert("L")
    return img


def _encode(img: Image.Image, fmt: str, animated: bool) -> bytes:
    buf = io.BytesIO()
    kwargs = {}
    if fmt == "WEBP":
        kwargs["lossless"] = img.width * img.height % 2 == 0
    if animated and fmt in ("GIF", "WEBP", "PNG"):
        second = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img.save(buf, fmt, save_all=True, append_images=[second], duration=50, **kwargs)
    else:
        img.save(buf, fmt, **kwargs)
    return buf.getvalue()


_position = st.one_of(st.integers(0, 80), st.floats(0, 1))  # often in the header, anywhere otherwise
_corruption = st.tuples(st.sampled_from(["set", "truncate", "insert", "delete", "zero"]), _position,
                        st.binary(min_size=1, max_size=12))


def _corrupt(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for kind, pos, payload in ops:
        if not out:
            break
        i = min(int(pos * len(out)) if isinstance(pos, float) else pos, len(out) - 1)
        if kind == "set":
            out[i:i + len(payload)] = payload[: max(0, len(out) - i)]
        elif kind == "truncate":
            del out[i:]
        elif kind == "insert":
            out[i:i] = payload
        elif kind == "delete":
            del out[i:i + len(payload)]
        else:
            out[i:i + len(payload) * 8] = bytes(len(out[i:i + len(payload) * 8]))
    return bytes(out)


@st.composite
def encoded_images(draw, corrupt: bool = True):
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    mode, fmt = draw(st.sampled_from(MODES)), draw(st.sampled_from(FORMATS))
    img = _fit(_make(mode, width, height, draw(st.integers(0, 2 ** 32 - 1))), fmt)
    data = _encode(img, fmt, animated=draw(st.booleans()))
    ops = draw(st.lists(_corruption, max_size=3)) if corrupt else []
    return fmt, mode, (width, height), _corrupt(data, ops), bool(ops)


def _check(model, fmt, mode, size, data, corrupted):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about some broken chunks; that is fine
            img = open_image(data, max_pixels=LIMIT)
            out = upscale(model, img, tile=0)
    except ImageLoadError as err:
        assert corrupted, f"an intact {fmt} ({mode}, {size}) was refused: {err}"
        assert "\n" not in str(err)
        return
    assert out.size == (img.width * 4, img.height * 4)
    assert out.mode in OUTPUT_MODES
    if not corrupted:
        assert img.size == size
    # the same data opened lazily by Pillow first (as an app receiving a PIL image would)
    try:
        lazy = Image.open(io.BytesIO(data))
    except Exception:  # Pillow's own open: before the library is involved
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = upscale(model, lazy, tile=0, max_pixels=LIMIT)
    except ImageLoadError:
        return
    w, h = lazy.size  # before EXIF orientation, which may swap the sides
    assert again.size in {(w * 4, h * 4), (h * 4, w * 4)} and again.mode in OUTPUT_MODES


@pytest.mark.parametrize("model_name", list(MODELS))
@FUZZ
@given(sample=encoded_images())
def test_corrupted_inputs_upscale_or_raise_image_load_error(model_name, sample):
    _check(MODELS[model_name], *sample)


@FUZZ
@given(sample=encoded_images(corrupt=False))
def test_intact_inputs_always_upscale(sample):
    _check(MODELS["bicubic"], *sample)


@settings(max_examples=40, deadline=None, database=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(data):
    try:
        out = upscale(MODELS["bicubic"], open_image(data, max_pixels=LIMIT), tile=0)
    except ImageLoadError:
        return
    assert out.width % 4 == 0 and out.height % 4 == 0

