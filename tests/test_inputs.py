"""Reliability of the input side (issue 7): every kind of image a user may hand over is decoded and
upscaled correctly, by the library and by the CLI; broken or hostile inputs are refused with a
one-line message naming the file, and a folder run goes on past them."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from conftest import smooth_rgb
from sr_core import ImageLoadError, open_image, upscale
from sr_core.io import fill_transparent, split_alpha

# --- good inputs --------------------------------------------------------------------------------


@dataclass
class Good:
    file: str
    out_mode: str            # mode of the upscaled image
    size: tuple[int, int]    # displayed (width, height) of the input
    reference: np.ndarray    # expected decoded pixels (displayed orientation), in out_mode's colour part
    tolerance: float         # max abs difference allowed for the decoded pixels (lossy formats > 0)


def make_good_inputs(folder: Path) -> dict[str, Good]:
    """Write one file per kind of input into ``folder``; return what each must decode to."""
    folder.mkdir(parents=True, exist_ok=True)
    src = smooth_rgb(13, 9, seed=3)
    rgb = Image.fromarray(src, "RGB")
    cases: dict[str, Good] = {}

    def add(name, img_to_save, out_mode, reference, tolerance=0.0, **save_kwargs):
        img_to_save.save(folder / name, **save_kwargs)
        ref = np.asarray(reference)
        cases[name] = Good(name, out_mode, (ref.shape[1], ref.shape[0]), ref, tolerance)

    add("rgb.png", rgb, "RGB", src)
    grey = rgb.convert("L")
    add("grey.png", grey, "L", grey)
    la = grey.copy()
    la.putalpha(Image.fromarray(np.linspace(0, 255, 13 * 9).reshape(9, 13).astype(np.uint8)))
    add("grey_alpha.png", Image.merge("LA", (grey, la.getchannel("A"))), "LA", grey)
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    add("palette.png", pal, "RGB", pal.convert("RGB"))
    add("palette_transparent.png", pal, "RGBA", pal.convert("RGB"), transparency=0)
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(np.linspace(255, 0, 13 * 9).reshape(9, 13).astype(np.uint8)))
    add("rgba.png", rgba, "RGBA", src)
    add("cmyk.jpg", rgb.convert("CMYK"), "RGB", src, tolerance=40, quality=95)
    i16 = np.linspace(300, 65000, 13 * 9).reshape(9, 13).astype(np.uint16)
    add("grey16.png", Image.fromarray(i16), "I;16", i16)
    add("image.bmp", rgb, "RGB", src)
    add("image.tiff", rgb, "RGB", src)
    add("image.webp", rgb, "RGB", src, lossless=True)
    second = Image.fromarray(255 - src, "RGB")
    gif_first = rgb.convert("P", palette=Image.ADAPTIVE, colors=64)
    add("animated.gif", gif_first, "RGB", gif_first.convert("RGB"), save_all=True,
        append_images=[second.convert("P", palette=Image.ADAPTIVE, colors=64)], duration=100, loop=0)
    add("animated.webp", rgb, "RGB", src, save_all=True, append_images=[second], lossless=True, duration=100)
    with Image.open(folder / "animated.webp") as im:  # libwebp may decode animations as RGBA: alpha is kept
        cases["animated.webp"].out_mode = im.mode
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    add("rotated.jpg", rgb, "RGB", np.asarray(rgb.transpose(Image.Transpose.ROTATE_270)), tolerance=40,
        exif=exif, quality=95, subsampling=0)
    add("one_pixel.png", Image.new("RGB", (1, 1), (200, 10, 90)), "RGB", np.array([[[200, 10, 90]]], np.uint8))
    add("name with spaces.png", rgb, "RGB", src)
    add("ünïcödé 画像.png", rgb, "RGB", src)
    add("braces {0} {x}.png", rgb, "RGB", src)  # output names must not go through str.format
    return cases


@pytest.fixture(scope="module")
def good_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    return folder, make_good_inputs(folder)


def _colour_part(img: Image.Image, mode: str) -> np.ndarray:
    """The pixels that go through the network: RGB, L, or 16-bit grey (alpha is handled apart)."""
    if mode in ("RGB", "RGBA"):
        return np.asarray(img.convert("RGB"))
    if mode in ("L", "LA"):
        return np.asarray(img.convert("LA").getchannel("L"))
    return np.asarray(img)


def test_every_kind_of_input_is_generated(good_inputs):
    """The generated files really are what their names say (guards the fixture itself)."""
    folder, cases = good_inputs
    with Image.open(folder / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
    with Image.open(folder / "grey16.png") as im:
        assert im.mode == "I;16"
    with Image.open(folder / "animated.gif") as im:
        assert im.n_frames == 2
    with Image.open(folder / "animated.webp") as im:
        assert im.n_frames == 2
    with Image.open(folder / "palette_transparent.png") as im:
        assert im.mode == "P" and "transparency" in im.info
    with Image.open(folder / "rotated.jpg") as im:
        assert im.getexif()[0x0112] == 6 and im.size == (13, 9)
    assert sorted(cases) == sorted(GOOD_NAMES)


GOOD_NAMES = ["rgb.png", "grey.png", "grey_alpha.png", "palette.png", "palette_transparent.png", "rgba.png",
              "cmyk.jpg", "grey16.png", "image.bmp", "image.tiff", "image.webp", "animated.gif", "animated.webp",
              "rotated.jpg", "one_pixel.png", "name with spaces.png", "ünïcödé 画像.png", "braces {0} {x}.png"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_decoded_and_upscaled_by_the_library(good_inputs, bicubic, name):
    folder, cases = good_inputs
    case = cases[name]
    img = open_image(folder / name)
    assert img.size == case.size
    decoded = _colour_part(img, case.out_mode).astype(np.int64)
    diff = np.abs(decoded - case.reference.astype(np.int64))
    assert diff.max() <= case.tolerance and diff.mean() <= case.tolerance / 8, (diff.mean(), diff.max())

    out = upscale(bicubic, folder / name)
    assert out.mode == case.out_mode
    assert out.size == (case.size[0] * 4, case.size[1] * 4)
    # the colour part is the (Pillow) bicubic upscale of the decoded image
    got = _colour_part(out, case.out_mode).astype(np.int64)
    if case.out_mode == "I;16":
        ref = np.asarray(Image.fromarray(decoded.astype(np.float32), "F").resize(out.size, Image.BICUBIC))
        ref = np.clip(ref, 0, 65535)  # mode F is not clipped; 16-bit output is
        assert np.abs(got - ref).max() <= 2
    else:
        colour, alpha = split_alpha(img)
        if alpha is not None:  # fully transparent pixels first take their neighbours' colour (test_transparency.py)
            decoded = _colour_part(fill_transparent(colour, alpha), case.out_mode).astype(np.int64)
        ref = np.asarray(Image.fromarray(decoded.astype(np.uint8)).resize(out.size, Image.BICUBIC)).astype(np.int64)
        assert np.abs(got - ref).max() <= 1


def test_alpha_is_kept(good_inputs, bicubic):
    folder, _ = good_inputs
    out = upscale(bicubic, folder / "rgba.png")
    with Image.open(folder / "rgba.png") as im:
        expected = np.asarray(im.getchannel("A").resize(out.size, Image.BICUBIC)).astype(int)
    assert np.abs(np.asarray(out.getchannel("A")).astype(int) - expected).max() <= 1
    pal = upscale(bicubic, folder / "palette_transparent.png")
    with Image.open(folder / "palette_transparent.png") as im:
        transparent = np.asarray(im) == 0
    assert transparent.any() and not transparent.all()
    mask = Image.fromarray(np.where(transparent, 0, 255).astype(np.uint8))
    expected = np.asarray(mask.resize(pal.size, Image.BICUBIC)).astype(int)
    assert np.abs(np.asarray(pal.getchannel("A")).astype(int) - expected).max() <= 1


def test_first_frame_of_animations(good_inputs, bicubic):
    """Frame 1 is the negative of frame 0: the output must follow frame 0."""
    folder, cases = good_inputs
    for name in ("animated.gif", "animated.webp"):
        out = np.asarray(upscale(bicubic, folder / name).convert("RGB")).astype(int)
        ref = np.asarray(Image.fromarray(cases[name].reference).resize((52, 36), Image.BICUBIC)).astype(int)
        assert np.abs(out - ref).mean() < 2, name


def test_16_bit_keeps_precision(good_inputs, bicubic):
    folder, _ = good_inputs
    out = upscale(bicubic, folder / "grey16.png")
    arr = np.asarray(out).astype(np.int64)
    assert out.mode == "I;16" and arr.max() > 255
    assert len(np.unique(arr % 257)) > 20  # not 8-bit values stretched to 16 bits


# --- bad inputs ---------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, real_rows: int | None = 0) -> bytes:
    """An 8-bit greyscale PNG whose header claims ``width x height``; the data holds ``real_rows`` rows of
    zeros (``None``: all of them, a genuine decompression bomb), compressed."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = bytes(width + 1)
    rows = height if real_rows is None else real_rows
    idat = b"".join(comp.compress(row) for _ in range(rows)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def make_bad_inputs(folder: Path) -> dict[str, str]:
    """Write one file per kind of bad input; return file name -> a word the refusal must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("these are not pixels\n")
    good_png, good_jpg = io.BytesIO(), io.BytesIO()
    Image.fromarray(smooth_rgb(40, 30)).save(good_png, "PNG")
    Image.fromarray(smooth_rgb(40, 30)).save(good_jpg, "JPEG")
    (folder / "truncated.png").write_bytes(good_png.getvalue()[: len(good_png.getvalue()) // 2])
    (folder / "truncated.jpg").write_bytes(good_jpg.getvalue()[: len(good_jpg.getvalue()) // 2])
    (folder / "bomb_header.png").write_bytes(png_claiming(100_000, 100_000))  # 10 G pixels claimed
    (folder / "bomb.png").write_bytes(png_claiming(6000, 6000, real_rows=None))  # 36 M real zero pixels
    Image.fromarray(smooth_rgb(64, 64)).save(folder / "too_large.png")  # over the --max-pixels given below
    return {"empty.png": "empty", "notes.png": "not an image", "truncated.png": "truncated",
            "truncated.jpg": "truncated", "bomb_header.png": "bomb", "bomb.png": "limit",
            "too_large.png": "limit"}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, make_bad_inputs(folder)


@pytest.mark.parametrize("name", ["empty.png", "notes.png", "truncated.png", "truncated.jpg", "bomb_header.png",
                                  "bomb.png", "too_large.png"])
def test_bad_inputs_refused_by_the_library(bad_inputs, bicubic, name):
    folder, expected = bad_inputs
    path = folder / name
    with pytest.raises(ImageLoadError) as info:
        open_image(path, max_pixels=2000)
    message = str(info.value)
    assert str(path) in message and expected[name] in message
    assert "\n" not in message
    with pytest.raises(ImageLoadError):
        upscale(bicubic, path, max_pixels=2000)


def test_directory_passed_as_a_file(tmp_path, bicubic):
    folder = tmp_path / "looks_like.png"
    folder.mkdir()
    with pytest.raises(ImageLoadError, match="directory") as info:
        open_image(folder)
    assert str(folder) in str(info.value)
    with pytest.raises(ImageLoadError):
        upscale(bicubic, str(folder))
    with pytest.raises(ImageLoadError, match="no such file"):
        open_image(tmp_path / "missing.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_lazily_opened_broken_image_is_an_image_load_error(tmp_path, bicubic, fmt):
    """A PIL image opened (lazily) from a file cut after its header: the error comes from open_image, named."""
    data = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(data, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) * 3 // 4])
    with Image.open(path) as img:  # the header is intact: opening works, decoding does not
        assert img.size == (80, 60)
        with pytest.raises(ImageLoadError, match="truncated") as info:
            upscale(bicubic, img)
    assert str(path) in str(info.value)


def test_empty_pil_image_is_refused(bicubic):
    with pytest.raises(ImageLoadError, match="no pixels"):
        upscale(bicubic, Image.new("RGB", (0, 3)))


def test_decompression_bomb_refused_before_decoding(bad_inputs, monkeypatch):
    """Both bombs are refused from their header alone: no pixel is decoded, and it is quick."""
    folder, _ = bad_inputs
    monkeypatch.delenv("SR_MAX_PIXELS", raising=False)

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for name, word in (("bomb_header.png", "bomb"), ("bomb.png", "limit")):  # default limit: 16 M pixels
        start = time.perf_counter()
        with pytest.raises(ImageLoadError, match=word):
            open_image(folder / name)
        assert time.perf_counter() - start < 5
    with pytest.raises(ImageLoadError, match="limit"):
        open_image((folder / "bomb.png").read_bytes())  # bytes too


def test_max_pixels_setting(monkeypatch, make_rgb):
    img = io.BytesIO()
    make_rgb(30, 20).save(img, "PNG")
    data = img.getvalue()
    assert open_image(data, max_pixels=600).size == (30, 20)
    with pytest.raises(ImageLoadError, match="600"):
        open_image(data, max_pixels=599)
    monkeypatch.setenv("SR_MAX_PIXELS", "599")
    with pytest.raises(ImageLoadError, match="SR_MAX_PIXELS"):
        open_image(data)
    assert open_image(data, max_pixels=None).size == (30, 20)


# --- outputs ------------------------------------------------------------------------------------

def _as_8bit_grey_or_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I"):
        return np.round(np.asarray(img, dtype=np.float64) / 257)
    return np.asarray(img.convert("RGB" if img.mode in ("RGB", "RGBA", "P", "CMYK") else "L"), dtype=np.float64)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "bmp", "gif", "tiff"])
@pytest.mark.parametrize("mode", ["I;16", "LA", "RGBA", "L", "RGB"])
def test_every_output_mode_saves_in_every_format(tmp_path, mode, ext):
    """What ``upscale`` returns can be written with any extension, without clipping 16-bit grey to white."""
    from sr_core.io import save_image

    ramp = np.linspace(0, 1, 16 * 12).reshape(12, 16)
    if mode == "I;16":
        img = Image.fromarray(np.round(ramp * 65535).astype(np.uint16))
    else:
        img = Image.fromarray(np.round(ramp * 255).astype(np.uint8), "L").convert(mode)
    path = save_image(img, tmp_path / f"out.{ext}")
    with Image.open(path) as saved:
        saved.load()
        got = _as_8bit_grey_or_rgb(saved)
    if got.ndim == 3:
        got = got.mean(axis=2)
    expected = np.round(ramp * 255)
    if ext == "gif":  # palette: colours are quantised
        assert np.abs(got - expected).mean() < 8
    else:
        assert np.abs(got - expected).mean() < 2, (mode, ext, got.mean(), expected.mean())
    if mode == "I;16" and ext in ("png", "tiff"):
        assert saved.mode == "I;16"  # 16 bits kept where the format can hold them


# --- the CLI ------------------------------------------------------------------------------------

def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _expected_output_name(name: str, names: list[str]) -> str:
    """``<stem>_bicubic_x4.png``; inputs of one folder that share a stem keep their extension in the name."""
    stem = Path(name).stem
    if sum(Path(n).stem == stem for n in names) > 1:
        stem = f"{stem}_{Path(name).suffix[1:]}"
    return f"{stem}_bicubic_x4.png"


def _error_lines(result, path: Path) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith("error: ") and str(path) in line]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, cli):
    """Every CLI scenario of this module, through the CLI's ``main`` in this process (``SR_TEST_SUBPROCESS=1``:
    as ``python -m sr_core``; test_cli.py always runs one that way). On a busy machine this saves the ~25 s
    a new interpreter spends importing torch."""
    root = tmp_path_factory.mktemp("cli")
    runs = {}

    # a folder of good and bad files, in a sub folder too
    inputs = root / "mixed"
    good = make_good_inputs(inputs)
    bad = make_bad_inputs(inputs / "bad ones")
    (inputs / "sub folder").mkdir()
    Image.fromarray(smooth_rgb(11, 7)).save(inputs / "sub folder" / "nested.png")
    runs["mixed"] = dict(inputs=inputs, good=good, bad=bad, out=root / "mixed out", before=_hashes(inputs),
                         result=cli("upscale", inputs, "-o", root / "mixed out", "--model", "bicubic",
                                    "--max-pixels", "2000", "--no-progress"))

    # a directory where a file is expected
    folder = root / "photo.png"
    folder.mkdir()
    runs["dir"] = dict(folder=folder, out=root / "out.png",
                       result=cli("upscale", folder, "-o", root / "out.png", "--model", "bicubic"))

    # an output that cannot be written: a file stands where the output folder must go
    (root / "one").mkdir()
    Image.fromarray(smooth_rgb(8, 6)).save(root / "one" / "a.png")
    (root / "blocker").write_text("a file, not a folder")
    runs["unwritable"] = dict(src=root / "one" / "a.png",
                              result=cli("upscale", root / "one", "-o", root / "blocker" / "sub", "--model", "bicubic"))

    # inputs that share a name
    (root / "names").mkdir()
    (root / "other").mkdir()
    for seed, path in enumerate(["names/photo.png", "names/photo.jpg", "names/x.png", "other/x.png"]):
        Image.fromarray(smooth_rgb(8, 6, seed=seed)).save(root / path)
    runs["names"] = dict(root=root, out=root / "names out",
                         result=cli("upscale", root / "names", root / "other" / "x.png", "-o", root / "names out",
                                    "--model", "nearest", "--overwrite"))
    return runs


def test_cli_folder_with_good_and_bad_files(cli_runs, cli, bicubic):
    run = cli_runs["mixed"]
    inputs, good, bad, out = run["inputs"], run["good"], run["bad"], run["out"]
    result = run["result"]
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text, text
    for name in bad:  # each refusal is one line that names the file
        assert _error_lines(result, inputs / "bad ones" / name), f"no one-line error naming {name}:\n{text}"
    wrote = [line for line in result.stdout.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == len(good) + 1 and f"{len(bad)} of " in result.stderr  # one line per written file
    assert all(str(out) in line for line in wrote)
    assert "error" not in result.stdout  # stdout is for results, stderr for the errors and their summary
    for name, case in good.items():  # every good file is written, and is what the library makes of it
        dst = out / _expected_output_name(name, list(good))
        assert dst.is_file(), name
        with Image.open(dst) as im:
            assert im.size == (case.size[0] * 4, case.size[1] * 4), name
            assert im.mode == case.out_mode, name
            assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, inputs / name))), name
    assert (out / "sub folder" / "nested_bicubic_x4.png").is_file()  # folder structure kept
    assert not (out / "bad ones").exists() or not any((out / "bad ones").iterdir())
    assert not list(out.rglob("*.part"))  # no temporary files left behind
    written = _hashes(out)
    assert len(written) == len(good) + 1

    # again without --overwrite: nothing is replaced (a deliberately damaged output stays as it is)
    damaged = out / "rgb_bicubic_x4.png"
    damaged.write_bytes(b"keep me")
    again = cli("upscale", inputs, "-o", out, "--model", "bicubic", "--max-pixels", "2000", "--no-progress")
    assert again.returncode == 1 and "Traceback" not in again.stdout + again.stderr
    assert again.stdout == ""  # nothing written: no line
    assert _error_lines(again, damaged) and "--overwrite" in again.stderr
    assert damaged.read_bytes() == b"keep me"

    # with --overwrite every good output is written again; the bad files still fail
    again = cli("upscale", inputs, "-o", out, "--model", "bicubic", "--max-pixels", "2000", "--no-progress",
                "--overwrite")
    assert again.returncode == 1 and "Traceback" not in again.stdout + again.stderr
    assert sum(line.startswith("wrote ") for line in again.stdout.splitlines()) == len(good) + 1
    assert _hashes(out) == written
    assert _hashes(inputs) == run["before"]  # inputs never change


def test_cli_directory_passed_as_a_file(cli_runs):
    run = cli_runs["dir"]
    result = run["result"]
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(run["folder"]) in lines[0]
    assert not run["out"].exists()


def test_cli_unwritable_output_is_a_clean_failure(cli_runs):
    """An output that cannot be written fails that image with a one-line message, not the whole run."""
    result = cli_runs["unwritable"]["result"]
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert _error_lines(result, cli_runs["unwritable"]["src"])


def test_cli_inputs_sharing_a_name_get_separate_outputs(cli_runs):
    """photo.png and photo.jpg in one folder, and two x.png from different folders, never overwrite each other."""
    run = cli_runs["names"]
    root, out = run["root"], run["out"]
    result = run["result"]
    assert "Traceback" not in result.stdout + result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names[:2] == ["photo_jpg_nearest_x4.png", "photo_png_nearest_x4.png"] and len(names) == 3
    for name, src in (("photo_png_nearest_x4.png", "names/photo.png"), (names[2], "names/x.png")):
        with Image.open(out / name) as im, Image.open(root / src) as ref:
            assert np.array_equal(np.asarray(im), np.asarray(ref.resize(im.size, Image.NEAREST))), name
    # the second x.png is refused (even with --overwrite) rather than replacing the first one's output
    assert result.returncode == 1
    assert _error_lines(result, root / "other" / "x.png")
