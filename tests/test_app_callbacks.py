"""The app's callbacks, called directly (no server, no browser, no network)."""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import gradio as gr  # noqa: E402

import sr_core  # noqa: E402
from demo import callbacks, models, ui  # noqa: E402
from sr_core.io import to_tensor  # noqa: E402


def photo(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """Smooth gradients, an edge and a little noise: enough structure for finite PSNR/SSIM."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    arr = np.stack([128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0),
                    60 + 150 * (xx + yy) / (width + height),
                    np.where(xx > width / 2, 200.0, 40.0)], -1) + rng.normal(0, 6, (height, width, 3))
    img = Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")
    return img.convert(mode) if mode != "RGB" else img


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty weights folder, no Hub, default limits, fresh model caches, no classifier module unless a test adds one."""
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(weights))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    monkeypatch.delenv("SR_APP_MAX_PIXELS", raising=False)
    monkeypatch.delenv("SR_APP_TILE", raising=False)
    monkeypatch.setenv("SR_DEVICE", "cpu")
    monkeypatch.setitem(sys.modules, "sr_core.classifier", None)  # import fails -> "no classifier module"
    models.clear_caches()
    yield weights
    models.clear_caches()


def fake_classifier_module(p_cat: float = 0.7, missing: tuple[str, ...] = ()) -> types.ModuleType:
    module = types.ModuleType("sr_core.classifier")

    def load_classifier(name, device="cpu"):
        if name in missing:
            raise FileNotFoundError(f"no weights for {name!r}")
        return torch.nn.Identity()

    def predict_proba(model, images):
        assert all(isinstance(im, Image.Image) for im in images)
        return torch.tensor([[p_cat, 1 - p_cat]] * len(images))

    module.load_classifier, module.predict_proba = load_classifier, predict_proba
    return module


def error_message(excinfo) -> str:
    return str(excinfo.value.message)


# --- Upscale ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bicubic", "lanczos", "nearest"])
def test_upscale_classical_sizes_and_png(name):
    path, info = callbacks.upscale_image(photo(20, 14), name)
    with Image.open(path) as out:
        assert out.format == "PNG" and out.size == (80, 56)
    assert info["model"] == name and info["scale"] == 4
    assert info["input_size"] == [20, 14] and info["output_size"] == [80, 56]
    assert info["seconds"] >= 0 and math.isfinite(info["seconds"])


def test_upscale_matches_sr_core_and_uses_a_new_folder_per_request(tmp_path):
    src = tmp_path / "in put.png"
    photo(24, 18).save(src)
    path1, _ = callbacks.upscale_image(str(src), "bicubic", tile=0)
    path2, _ = callbacks.upscale_image(str(src), "bicubic", tile=0)
    assert Path(path1).parent != Path(path2).parent
    assert Path(path1).name == "in_put_bicubic_x4.png"
    expected = sr_core.upscale(sr_core.load_model("bicubic"), photo(24, 18), tile=0)
    assert np.array_equal(np.asarray(Image.open(path1)), np.asarray(expected))


def test_upscale_keeps_alpha_and_greyscale():
    rgba = photo(10, 8).convert("RGBA")
    path, info = callbacks.upscale_image(rgba, "bicubic")
    assert Image.open(path).mode == "RGBA" and info["mode"] == "RGBA"
    path, _ = callbacks.upscale_image(photo(10, 8, mode="L"), "nearest")
    assert Image.open(path).mode == "L"


def test_upscale_tiles_report_progress():
    calls = []
    path, info = callbacks.upscale_image(photo(100, 90), "bicubic", tile=48,
                                         progress=lambda fraction, desc=None: calls.append((fraction, desc)))
    assert info["tiles"] > 1
    tile_calls = [c for c in calls if c[1] and "tile" in c[1]]
    assert len(tile_calls) == info["tiles"] and tile_calls[-1][0] == 1.0
    assert Image.open(path).size == (400, 360)
    _, info = callbacks.upscale_image(photo(100, 90), "nearest", tile=8)  # raised to the smallest usable tile
    assert info["tiles"] > 1


def test_before_after_pair_has_equal_sizes():
    img = photo(12, 9)
    path, _ = callbacks.upscale_image(img, "bicubic")
    before, after = callbacks.before_after(img, path)
    assert after == path
    assert Image.open(before).size == Image.open(after).size == (48, 36)
    assert callbacks.before_after(None, path) is None
    summary = callbacks.upscale_summary(callbacks.upscale_image(img, "nearest")[1])
    assert "12×9" in summary and "48×36" in summary and " s" in summary


@pytest.mark.parametrize("fmt, other", [("PNG", "JPEG"), ("WebP", "PNG")])
def test_large_output_gets_a_second_format_its_sizes_and_a_full_size_centre(monkeypatch, fmt, other):
    """Above LARGE_OUTPUT_PIXELS a PNG also comes as a JPEG (a JPEG or WebP also as a PNG), the summary gives each
    file's size, and the slider shows the centre PREVIEW_SIDE px at full size (both sides cut alike)."""
    monkeypatch.setattr(callbacks, "LARGE_OUTPUT_PIXELS", 50 * 40)
    monkeypatch.setattr(callbacks, "PREVIEW_SIDE", 64)
    img = photo(30, 20)
    path, info = callbacks.upscale_image(img, "nearest", fmt=fmt)  # 120 x 80: large here
    with monkeypatch.context() as m:  # the app's own output may be over Pillow's bomb limit (4000 x 3000 at 4x:
        m.setattr(Image, "MAX_IMAGE_PIXELS", 4500)  # 192 M > 179 M pixels); it is opened all the same
        with pytest.raises(Image.DecompressionBombError):
            Image.open(path)
        pair, second, summary = callbacks.result_views(img, path, info)
    with Image.open(second) as alt:
        assert alt.format == other and alt.size == (120, 80)
    assert f"{fmt.upper()} " in summary and f"{other} " in summary and summary.count(" MB") == 2
    before, after = (Image.open(f).convert("RGB") for f in pair)
    assert before.size == after.size == (64, 64) and "centre 64×64 px" in summary
    with Image.open(path) as full:
        expected = full.convert("RGB").crop((28, 8, 92, 72))
    if fmt == "PNG":  # lossless: the slider's "after" is exactly the centre of the output
        assert np.array_equal(np.asarray(after), np.asarray(expected))
    expected_before = img.crop((7, 2, 23, 18)).resize((64, 64), Image.NEAREST)  # nearest: the same pixels
    assert np.array_equal(np.asarray(before), np.asarray(expected_before))
    # a small output: one file, the whole image in the slider
    path, info = callbacks.upscale_image(photo(10, 8), "nearest")
    pair, second, summary = callbacks.result_views(photo(10, 8), path, info)
    assert second is None and pair[1] == path and summary.count(" MB") == 1 and "centre" not in summary


def test_trained_weights_are_picked_up_when_they_appear(isolated):
    assert "srresnet" not in models.model_choices()
    with pytest.raises(gr.Error) as excinfo:
        callbacks.upscale_image(photo(12, 10), "srresnet")
    assert "no weights yet" in error_message(excinfo)
    torch.manual_seed(0)
    sr_core.save_pretrained(sr_core.build_preset("srresnet", num_features=8, num_blocks=1), isolated / "srresnet",
                            name="srresnet")
    assert models.model_choices()[0] == "srresnet" and models.default_model() == "srresnet"
    path, info = callbacks.upscale_image(photo(12, 10), "srresnet")
    assert Image.open(path).size == (48, 40) and info["model"] == "srresnet"
    assert "srresnet" not in ui.models_note()


# --- errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["upscale", "compare"])
def test_no_image_is_a_clear_error(fn):
    with pytest.raises(gr.Error) as excinfo:
        if fn == "upscale":
            callbacks.upscale_image(None, "bicubic")
        else:
            callbacks.compare_images(None, "bicubic", "standard")
    assert "No image" in error_message(excinfo)


def test_too_many_pixels_names_the_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("SR_APP_MAX_PIXELS", "300")
    assert callbacks.app_max_pixels() == 300
    src = tmp_path / "big.png"
    photo(20, 20).save(src)
    for call in (lambda: callbacks.upscale_image(str(src), "bicubic"),
                 lambda: callbacks.upscale_image(photo(20, 20), "bicubic"),
                 lambda: callbacks.compare_images(str(src), "bicubic", "catdog32")):
        with pytest.raises(gr.Error) as excinfo:
            call()
        assert "20x20 = 400 pixels" in error_message(excinfo) and "at most 300 pixels" in error_message(excinfo)


def huge_png(path: Path, width: int = 20_000, height: int = 10_000) -> Path:
    """A PNG whose header claims width x height pixels (no pixel data): Pillow refuses it on open."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_refused_as_too_many_pixels(tmp_path):
    from gradio.data_classes import ImageData

    bomb = huge_png(tmp_path / "bomb.png")
    with pytest.raises(gr.Error) as excinfo:
        callbacks.upscale_image(str(bomb), "bicubic")
    assert "more pixels than Pillow will open" in error_message(excinfo)
    assert f"at most {callbacks.app_max_pixels():,} pixels" in error_message(excinfo)
    component = ui.upload_image(type="filepath", image_mode=None)
    with pytest.raises(gr.Error, match="at most"):
        component.preprocess(ImageData(path=str(bomb), orig_name="bomb.png"))


def test_default_limit_is_the_clis_locally_and_lower_on_a_space(monkeypatch):
    """Run locally, the app takes what the CLI takes (a 12 Mpx phone photo); on a Space (SPACE_ID set) the
    default is SPACE_MAX_PIXELS; SR_APP_MAX_PIXELS overrides both; the page states the limit before any upload."""
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert callbacks.app_max_pixels() == sr_core.config.max_pixels() >= 12_000_000
    callbacks.check_upload_pixels(4000, 3000)  # a phone photo: accepted
    monkeypatch.setenv("SR_MAX_PIXELS", "5000")
    assert callbacks.app_max_pixels() == 5000
    monkeypatch.delenv("SR_MAX_PIXELS")
    monkeypatch.setenv("SPACE_ID", "owner/space")
    assert callbacks.app_max_pixels() == callbacks.SPACE_MAX_PIXELS < sr_core.config.max_pixels()
    assert "2 megapixels" in ui.models_note(lambda: ["bicubic"]) and "Space" in ui.models_note(lambda: ["bicubic"])
    demo = ui.build_ui(list_models=lambda: ["bicubic"])
    label = next(b.label for b in demo.blocks.values() if getattr(b, "elem_id", None) == "upscale-input")
    assert "up to 2 Mpx" in label
    monkeypatch.setenv("SR_APP_MAX_PIXELS", "300")
    assert callbacks.app_max_pixels() == 300


@pytest.mark.parametrize("name", ["", None, "  "])
def test_no_model_named_means_the_default(name):
    """An API caller that names no model gets the Upscale tab's default (``real`` when it has weights; here,
    with an empty weights folder, the first classical filter)."""
    _, info = callbacks.upscale_image(photo(8, 8), name)
    assert info["model"] == models.default_model() == "bicubic"


@pytest.mark.parametrize("name, expected", [("no-such-model", "Unknown model"), ("srgan", "no weights yet")])
def test_bad_model_names(name, expected):
    for call in (lambda: callbacks.upscale_image(photo(8, 8), name),
                 lambda: callbacks.compare_images(photo(32, 32), name, "standard")):
        with pytest.raises(gr.Error) as excinfo:
            call()
        assert expected in error_message(excinfo)
        assert "bicubic" in error_message(excinfo)  # says what is available


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(gr.Error) as excinfo:
        callbacks.upscale_image(str(bad), "bicubic")
    assert "Could not read" in error_message(excinfo) and str(tmp_path) not in error_message(excinfo)
    with pytest.raises(gr.Error, match="Could not read"):
        callbacks.upscale_image(str(tmp_path / "missing.png"), "bicubic")
    truncated = tmp_path / "cut.png"
    photo(64, 64).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(gr.Error, match="Could not read"):
        callbacks.compare_images(str(truncated), "bicubic", "standard")


def test_upload_component_turns_unreadable_uploads_into_gr_error(tmp_path):
    from gradio.data_classes import ImageData

    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    component = ui.upload_image(type="filepath", image_mode=None)
    for path in (bad, empty):
        with pytest.raises(gr.Error, match="Could not read the uploaded file as an image: it is empty or not") as info:
            component.preprocess(ImageData(path=str(path), orig_name=path.name))
        assert "Error" not in str(info.value)  # no exception class names in what the user reads


def test_compare_bad_preset_and_tiny_image():
    with pytest.raises(gr.Error, match="Unknown preset"):
        callbacks.compare_images(photo(32, 32), "bicubic", "huge")
    with pytest.raises(gr.Error, match="at least 19x19"):
        callbacks.compare_images(photo(16, 40), "bicubic", "standard")


# --- Compare ----------------------------------------------------------------------------------------------

def test_compare_standard_sizes_and_metrics_match_sr_core():
    lr, bic, sr, hr, readouts = callbacks.compare_images(photo(50, 38), "lanczos", "standard")
    assert hr.size == (48, 36)  # mod-cropped to the scale
    assert lr.size == bic.size == sr.size == hr.size
    assert readouts["lr_size"] == [12, 9] and readouts["hr_size"] == [48, 36] and readouts["scale"] == 4
    for key, img in (("bicubic", bic), ("sr", sr)):
        m = readouts["metrics"][key]
        assert math.isfinite(m["psnr"]) and 0 < m["ssim"] <= 1
        ref_psnr = float(sr_core.psnr(to_tensor(img), to_tensor(hr), crop_border=4)[0])
        ref_ssim = float(sr_core.ssim(to_tensor(img), to_tensor(hr), crop_border=4)[0])
        assert m["psnr"] == pytest.approx(ref_psnr, abs=1e-3)
        assert m["ssim"] == pytest.approx(ref_ssim, abs=1e-4)
    assert readouts["metrics"]["sr"] != readouts["metrics"]["bicubic"]  # lanczos is not bicubic
    # the LR viewer is the LR enlarged with nearest neighbour: every 4x4 block is one colour
    block = np.asarray(lr)[:4, :4].reshape(-1, 3)
    assert (block == block[0]).all()


def test_compare_catdog_preset_sizes():
    lr, bic, sr, hr, readouts = callbacks.compare_images(photo(70, 50), "bicubic", "catdog32")
    assert hr.size == bic.size == sr.size == lr.size == (128, 128)
    assert readouts["lr_size"] == [32, 32]
    assert readouts["metrics"]["sr"] == readouts["metrics"]["bicubic"]  # the model is bicubic


def test_classifier_readout_without_module():
    *_, readouts = callbacks.compare_images(photo(40, 40), "bicubic", "catdog32")
    clf = readouts["classifiers"]
    assert set(clf) == {"classifier-a", "classifier-b"}
    assert clf["classifier-a"] == {"available": False, "message": "classifier A: not available (no classifier module)"}
    texts = callbacks.readout_markdown(readouts)
    assert all("classifier B: not available" in t for t in texts[1:])


def test_classifier_readout_without_weights(monkeypatch):
    monkeypatch.setitem(sys.modules, "sr_core.classifier", fake_classifier_module(missing=("classifier-a",)))
    *_, readouts = callbacks.compare_images(photo(40, 40), "bicubic", "catdog32")
    a, b = readouts["classifiers"]["classifier-a"], readouts["classifiers"]["classifier-b"]
    assert a == {"available": False, "message": "classifier A: not available (no weights)"}
    assert b["available"] and b["hr"] == b["sr"] == b["bicubic"] == {"cat": 0.7, "dog": 0.3}
    lr_text, bic_text, sr_text, hr_text = callbacks.readout_markdown(readouts)
    assert "classifier A: not available (no weights)" in hr_text
    assert "classifier B: cat 0.70 · dog 0.30" in hr_text and "classifier B: cat 0.70" in sr_text
    assert "PSNR" in bic_text and "PSNR" in sr_text and "PSNR" not in hr_text and "classifier" not in lr_text


def test_broken_classifier_does_not_break_compare(monkeypatch):
    module = fake_classifier_module()
    module.predict_proba = lambda model, images: (_ for _ in ()).throw(RuntimeError("bad input size"))
    monkeypatch.setitem(sys.modules, "sr_core.classifier", module)
    *_, readouts = callbacks.compare_images(photo(40, 40), "bicubic", "catdog32")
    assert readouts["classifiers"]["classifier-a"]["available"] is False
    assert "bad input size" in readouts["classifiers"]["classifier-a"]["message"]


def test_identical_images_give_json_safe_psnr():
    flat = Image.new("RGB", (32, 32), (90, 120, 200))
    *_, readouts = callbacks.compare_images(flat, "bicubic", "standard")
    assert readouts["metrics"]["bicubic"]["psnr"] is None  # inf has no JSON form
    assert "∞" in callbacks.readout_markdown(readouts)[1]


def test_zoom_crops():
    imgs = [photo(40, 20), None, photo(40, 20), photo(40, 20)]
    crops = callbacks.zoom_crops(imgs, x=0, y=100, zoom=4)
    assert crops[1] is None
    assert crops[0].size[0] >= callbacks.ZOOM_DISPLAY and crops[0].size[0] == 2 * crops[0].size[1]
    expected = imgs[0].crop((0, 15, 10, 20)).resize(crops[0].size, Image.NEAREST)
    assert np.array_equal(np.asarray(crops[0]), np.asarray(expected))


# --- UI ------------------------------------------------------------------------------------------------

def test_build_ui_with_fakes_exposes_the_public_endpoints():
    calls = []

    def fake_upscale(image, model_name, progress=None, **kwargs):
        calls.append(model_name)
        return None, {}

    demo = ui.build_ui(fake_upscale, list_models=lambda: ["bicubic"])
    assert isinstance(demo, gr.Blocks)
    endpoints = demo.get_api_info()["named_endpoints"]
    assert sorted(endpoints) == ["/compare", "/upscale", "/upscale_files", "/upscale_video"]
    public = [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert sorted(public) == ["compare", "upscale", "upscale_files", "upscale_video"]
    for name in ("/upscale", "/upscale_files"):  # scale and format: optional, with defaults
        params = {p["parameter_name"]: p for p in endpoints[name]["parameters"]}
        assert params["scale"]["parameter_has_default"] and params["scale"]["parameter_default"] == 4
        assert params["format"]["parameter_has_default"] and params["format"]["parameter_default"] == "PNG"
        assert params["detail"]["parameter_has_default"] and params["detail"]["parameter_default"] == 0.5
    assert calls == []  # building calls nothing


def test_catdog_readouts_only_with_the_catdog_preset(monkeypatch):
    """A bird photo under the standard preset gets no cat/dog probabilities (they would be noise)."""
    monkeypatch.setitem(sys.modules, "sr_core.classifier", fake_classifier_module(p_cat=0.02))
    *_, readouts = callbacks.compare_images(photo(40, 40), "bicubic", "standard")
    assert readouts["classifiers"] == {}
    assert not any("dog" in t or "classifier" in t for t in callbacks.readout_markdown(readouts))
    *_, readouts = callbacks.compare_images(photo(40, 40), "bicubic", "catdog32")
    assert readouts["classifiers"]["classifier-a"]["available"]
    assert "dog 0.98" in callbacks.readout_markdown(readouts)[3]


# --- output scale and format, several files, state clearing (issue 16) ------------------------------------

@pytest.mark.parametrize("scale, fmt, size, pil_format", [(None, "PNG", (80, 56), "PNG"), (2, "JPEG", (40, 28), "JPEG"),
                                                          ("x3", "WebP", (60, 42), "WEBP"), (4, "webp", (80, 56), "WEBP")])
def test_upscale_output_scale_and_format(scale, fmt, size, pil_format):
    path, info = callbacks.upscale_image(photo(20, 14), "bicubic", out_scale=scale, fmt=fmt)
    with Image.open(path) as im:
        assert im.size == size and im.format == pil_format
    assert info["output_size"] == list(size) and info["scale"] == (int(str(scale).lstrip("x")) if scale else 4)
    assert path.endswith({"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[pil_format])
    assert info["format"] in callbacks.OUTPUT_FORMATS


def test_upscale_keeps_icc_and_exif(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "TestCam"  # orientation: rotate 90; make
    src = tmp_path / "portrait.jpg"
    photo(12, 8).save(src, exif=exif.tobytes(), icc_profile=icc)
    path, _ = callbacks.upscale_image(str(src), "bicubic", out_scale=2, fmt="JPEG")
    with Image.open(path) as im:
        assert im.size == (16, 24) and im.info.get("icc_profile") == icc
        assert im.getexif().get(0x010F) == "TestCam" and im.getexif().get(0x0112, 1) == 1


def test_webp_too_wide_for_the_format_is_refused_before_any_work():
    callbacks.check_output_side((4000, 3000), 4, "WebP")  # 16000 px: fits
    callbacks.check_output_side((5000, 3000), 4, "PNG")
    with pytest.raises(gr.Error, match="WebP holds at most 16,383 px"):
        callbacks.check_output_side((5000, 3000), 4, "WebP")
    with pytest.raises(gr.Error, match="WebP holds at most"):
        callbacks.upscale_image(Image.new("RGB", (4200, 4), "white"), "nearest", fmt="WebP")


def test_bad_scale_or_format_is_a_clear_error():
    for kwargs in ({"out_scale": 5}, {"out_scale": "big"}, {"fmt": "GIF"}):
        with pytest.raises(gr.Error, match="Output scale|Format"):
            callbacks.upscale_image(photo(8, 8), "bicubic", **kwargs)


def test_upscale_several_files_gallery_zip_and_progress(tmp_path):
    import zipfile

    files = []
    for i, (w, h) in enumerate([(10, 8), (6, 9), (7, 7)]):
        folder = tmp_path / f"upload{i}"
        folder.mkdir()
        files.append(folder / ("same.png" if i < 2 else "other.png"))  # two uploads with one name
        photo(w, h).save(files[-1])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    files.append(tmp_path / "broken.png")
    steps = []
    outputs, archive, info = callbacks.upscale_files([str(f) for f in files], "bicubic", 2, "PNG",
                                                     progress=lambda f, desc="": steps.append((f, desc)))
    assert [Image.open(p).size for p in outputs] == [(20, 16), (12, 18), (14, 14)]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert len(names) == 3 and len(set(names)) == 3 and "same_bicubic_x2.png" in names
    assert [f["file"] for f in info["files"]] == ["same.png", "same.png", "other.png"]
    assert [f["file"] for f in info["failed"]] == ["broken.png"]
    assert "broken.png" in callbacks.batch_summary(info) and "**3** file(s)" in callbacks.batch_summary(info)
    for n in (1, 2, 3, 4):  # progress names each file in turn
        assert any(desc.startswith(f"file {n}/4") for _, desc in steps)
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    with pytest.raises(gr.Error, match="None of the files"):
        callbacks.upscale_files([str(tmp_path / "broken.png")], "bicubic")
    with pytest.raises(gr.Error, match="No files"):
        callbacks.upscale_files([], "bicubic")


def test_unreadable_upload_is_reported_on_upload(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    good = tmp_path / "good.png"
    photo(5, 5).save(good)
    callbacks.check_upload(str(good))  # fine: no error
    callbacks.check_upload(None)  # a cleared input: nothing to check
    with pytest.raises(gr.Error, match="Could not read"):
        callbacks.check_upload(str(bad))
    with pytest.raises(gr.Error, match="bad.png"):
        callbacks.check_uploads([str(good), str(bad)])


def test_new_upload_or_failed_run_clears_the_result():
    """The clearing steps empty slider/gallery, summary, downloads and info; the UI runs them on upload, on clear
    and before every run (so a failed run shows its error with no stale result beside it)."""
    assert callbacks.cleared() == (None, None, None, None)
    demo = ui.build_ui(list_models=lambda: ["bicubic"])
    clearing = [fn for fn in demo.fns.values() if fn.fn in (ui.clear_single, ui.clear_batch, ui.start_batch)]
    triggers = {(t[1]) for fn in clearing for t in fn.targets}
    assert {"upload", "clear", "click"} <= triggers
    ids = {c._id: c for c in demo.blocks.values()}
    cleared_elems = {ids[o._id].elem_id if hasattr(o, "_id") else ids[o].elem_id
                     for fn in clearing for o in fn.outputs}
    assert {"upscale-slider", "upscale-summary", "upscale-file", "upscale-info", "upscale-gallery",
            "upscale-zip"} <= cleared_elems
    # each run starts with the clearing step, then the model event
    click = [fn for fn in clearing if any(t[1] == "click" for t in fn.targets)]
    assert len(click) == 2


def test_import_app_loads_no_model_and_starts_no_server():
    import app

    assert isinstance(app.demo, gr.Blocks)
    assert models.loaded_models() == 0
    assert not app.demo.is_running and app.demo.local_url is None
    assert len((REPO_ROOT / "app.py").read_text().splitlines()) <= 30


# --- issue 26: upload errors at once, hidden empty panels, the Compare default, the header ---------------------

def test_upload_checks_run_queued_so_their_errors_show():
    """Gradio 6 shows no error toast for an unqueued event: the upload checks must run queued (in their own
    concurrency group, so they never wait behind a model run); a refused single image is then removed."""
    demo = ui.build_ui(list_models=lambda: ["bicubic"])
    checks = [fn for fn in demo.fns.values() if fn.fn in (callbacks.check_upload, callbacks.check_uploads)]
    assert len(checks) == 3  # Upscale input, the several-files box, the Compare input
    assert all(fn.queue and fn.concurrency_id == "checks" for fn in checks)
    removals = [fn for fn in demo.fns.values() if fn.fn is ui.no_image]
    assert len(removals) == 2 and all(fn.trigger_only_on_failure for fn in removals)


def test_empty_result_panels_are_hidden_and_the_header_does_not_promise_x4_only():
    demo = ui.build_ui(list_models=lambda: ["bicubic"])
    blocks = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    for elem in ("upscale-gallery", "upscale-zip", "upscale-file", "upscale-other"):
        assert blocks[elem].visible is False, elem
    assert blocks["upscale-slider"].visible is not False  # the slider holds the progress bar of a run
    note = ui.models_note(lambda: ["bicubic"])
    assert "every model upscales" not in note and "×2" in note and "Lanczos" in note
    gallery, zip_file, *_ = ui.start_batch()
    assert gallery.visible is True and zip_file.visible is False  # the gallery carries a run's progress


def test_compare_without_a_model_uses_the_presets_default(monkeypatch):
    asked = []
    monkeypatch.setattr(models, "compare_default", lambda preset, choices=None: asked.append(preset) or "bicubic")
    *_, readouts = callbacks.compare_images(photo(40, 40), "", "realistic")
    assert asked == ["realistic"] and readouts["model"] == "bicubic"
