"""The command line: ``python -m sr_core {models,upscale,evaluate}``.

One run goes through a new interpreter (``python -m sr_core`` in the repository root): an upscale of
a folder with a checkpoint folder as the model. The other cases call the same ``main`` in this
process (the ``cli`` fixture, which reports an escaping exception as a traceback and exit 1, as the
interpreter would), because each new interpreter spends ~25 s importing torch on the busy machine
the suite runs on (`SR_TEST_SUBPROCESS=1` runs them all as subprocesses).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import _tiny_srresnet, smooth_rgb
from sr_core import load_model, save_pretrained, upscale
from sr_core.nets import NET_PRESETS


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory, start_cli):
    """Start the ``python -m sr_core`` run; the test that checks it waits for it."""
    root = tmp_path_factory.mktemp("cli")
    inputs = root / "photos"
    (inputs / "day 1").mkdir(parents=True)
    Image.fromarray(smooth_rgb(15, 11, seed=1)).save(inputs / "beach.png")
    Image.fromarray(smooth_rgb(9, 13, seed=2)).save(inputs / "day 1" / "dinner.png")
    ckpt = save_pretrained(_tiny_srresnet(tail_gain=1.0), root / "checkpoints" / "tiny_srresnet")
    runs = {"inputs": inputs, "ckpt": ckpt, "out": root / "out"}
    runs["upscale"] = start_cli("upscale", inputs, "-o", runs["out"], "--model", ckpt, "--no-progress")
    return runs


def _no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


# --- models -------------------------------------------------------------------------------------

def test_models_lists_every_name(cli):
    result = cli("models")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert listed == set(NET_PRESETS)
    for name in ("bicubic", "lanczos", "nearest"):
        assert any(line.startswith(name) and line.rstrip().endswith("built-in") for line in result.stdout.splitlines())


# --- upscale ------------------------------------------------------------------------------------

def test_upscale_one_file_to_a_file_name(cli, tmp_path, bicubic):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_rgb(21, 14)).save(src)
    for name in ("result.png", "result.webp"):
        dst = tmp_path / "outputs" / name
        result = cli("upscale", src, "-o", dst, "--model", "bicubic", "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        _no_traceback(result)
        assert dst.is_file()
        with Image.open(dst) as im:
            assert im.size == (84, 56)
            if name.endswith(".png"):
                assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, src)))
    assert not list(tmp_path.rglob("*.part"))


def test_upscale_folder_to_folder(cli, tmp_path, bicubic):
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    Image.fromarray(smooth_rgb(10, 8, seed=1)).save(inputs / "a.png")
    Image.fromarray(smooth_rgb(7, 9, seed=2)).save(inputs / "nested" / "b.jpg")
    (inputs / "readme.txt").write_text("not an image, and not picked up as one")
    out = tmp_path / "out"
    result = cli("upscale", inputs, "-o", out, "--model", "bicubic", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"wrote {out / 'a_bicubic_x4.png'} (40x32)",  # one line per file
                                          f"wrote {out / 'nested' / 'b_bicubic_x4.png'} (28x36)"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a_bicubic_x4.png", "nested/b_bicubic_x4.png"]
    with Image.open(out / "nested" / "b_bicubic_x4.png") as im:
        assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, inputs / "nested" / "b.jpg")))


def test_upscale_with_a_checkpoint_folder(subprocess_runs):
    """``python -m sr_core upscale <folder> --model <checkpoint folder>``: outputs named after the checkpoint."""
    result = subprocess_runs["upscale"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)
    out, inputs = subprocess_runs["out"], subprocess_runs["inputs"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["beach_tiny_srresnet_x4.png", "day 1/dinner_tiny_srresnet_x4.png"]
    model = load_model(subprocess_runs["ckpt"])
    for name, src in zip(files, ["beach.png", "day 1/dinner.png"]):
        with Image.open(out / name) as im:
            expected = np.asarray(upscale(model, inputs / src)).astype(int)
            assert np.abs(np.asarray(im).astype(int) - expected).max() <= 1


def test_upscale_one_file_with_a_checkpoint(cli, tmp_path, subprocess_runs):
    src = subprocess_runs["inputs"] / "beach.png"
    for model in (subprocess_runs["ckpt"], subprocess_runs["ckpt"] / "model.safetensors"):
        dst = tmp_path / "beach_x4.png"
        result = cli("upscale", src, "-o", dst, "--model", model, "--overwrite")
        assert result.returncode == 0, result.stdout + result.stderr
        with Image.open(dst) as im:  # the CLI's default precision is upscale's "auto" (sr_core.inference.auto_dtype)
            assert np.array_equal(np.asarray(im), np.asarray(upscale(load_model(subprocess_runs["ckpt"]), src,
                                                                     dtype="auto")))
    result = cli("upscale", src, "-o", dst, "--model", subprocess_runs["ckpt"], "--overwrite", "--dtype", "float32")
    assert result.returncode == 0, result.stdout + result.stderr
    with Image.open(dst) as im:  # and --dtype float32 is the library's default
        assert np.array_equal(np.asarray(im), np.asarray(upscale(load_model(subprocess_runs["ckpt"]), src)))


# --- evaluate -----------------------------------------------------------------------------------

def test_evaluate_set5_bicubic(cli, set5_dir, tmp_path):
    result = cli("evaluate", "--model", "bicubic", "--hr-dir", set5_dir, "--json", tmp_path / "set5.json")
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)
    report = json.loads((tmp_path / "set5.json").read_text())
    assert report["scale"] == 4 and report["model"] == "bicubic" and len(report["images"]) == 5
    assert report["mean"]["model_psnr"] == pytest.approx(28.43, abs=0.01)
    assert report["mean"]["bicubic_psnr"] == pytest.approx(28.43, abs=0.01)
    assert report["mean"]["model_ssim"] == pytest.approx(0.811, abs=0.001)
    mean_line = [line for line in result.stdout.splitlines() if line.startswith("mean")]
    assert len(mean_line) == 1 and "28.43" in mean_line[0]


def test_evaluate_missing_folder(cli, tmp_path):
    result = cli("evaluate", "--model", "bicubic", "--hr-dir", tmp_path / "nothing here")
    assert result.returncode == 2
    _no_traceback(result)
    assert result.stderr.startswith("error: ") and "nothing here" in result.stderr


# --- errors -------------------------------------------------------------------------------------

def _one_line_error(result, *words):
    _no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unknown_model(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "no-such-model")
    assert result.returncode == 2
    _one_line_error(result, "no-such-model", "looked in")
    assert not (tmp_path / "b.png").exists()


def test_preset_without_weights(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "no weights"))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "srresnet")
    assert result.returncode == 2
    _one_line_error(result, "srresnet", str(tmp_path / "no weights"))


@pytest.mark.parametrize("flag", ["--require-weights", "--weights"])  # --weights: its old, hidden name
def test_export_onnx_can_require_weights(cli, tmp_path, monkeypatch, flag):
    from sr_core.cli import build_parser

    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "no weights"))
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    result = cli("export-onnx", "--model", "srresnet", flag, "-o", tmp_path / "x.onnx")
    assert result.returncode == 2 and not (tmp_path / "x.onnx").exists()
    _one_line_error(result, "srresnet", str(tmp_path / "no weights"))
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["export-onnx"]
    assert "--require-weights" in sub.format_help() and "--weights" not in sub.format_help()


def test_model_at_a_detail_is_named_like_detail(cli, tmp_path, monkeypatch):
    """``--model real@0.3`` is ``--model real --detail 0.3``: the same network, the same output name."""
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "w"))
    torch = pytest.importorskip("torch")
    from sr_core.nets import build_preset

    for i, name in enumerate(("real-psnr", "real")):
        torch.manual_seed(i)
        save_pretrained(build_preset(name, num_features=8, num_blocks=1), tmp_path / "w" / name, name=name)
    Image.fromarray(smooth_rgb(6, 5)).save(tmp_path / "a.png")
    first = cli("upscale", tmp_path / "a.png", "--model", "real@0.3", "--dtype", "float32")
    assert first.returncode == 0, first.stderr
    made = tmp_path / "a_real-detail0.30_x4.png"
    assert made.is_file()
    again = cli("upscale", tmp_path / "a.png", "--model", "real", "--detail", "0.3", "--dtype", "float32",
                "-o", tmp_path / "b.png")
    assert again.returncode == 0, again.stderr
    assert np.array_equal(np.asarray(Image.open(made)), np.asarray(Image.open(tmp_path / "b.png")))


def test_model_at_a_detail_on_the_shipped_graphs(cli, tmp_path):
    """The shipped ``real`` runs on ONNX Runtime (``--backend onnx``): ``real@0.3`` there is ``--detail 0.3`` too,
    and a detail named twice is one line on stderr."""
    pytest.importorskip("onnxruntime")
    Image.fromarray(smooth_rgb(12, 10)).save(tmp_path / "a.png")
    first = cli("upscale", tmp_path / "a.png", "--model", "real@0.3", "--backend", "onnx", "-o", tmp_path / "a4.png")
    again = cli("upscale", tmp_path / "a.png", "--model", "real", "--detail", "0.3", "--backend", "onnx",
                "-o", tmp_path / "b4.png")
    assert first.returncode == 0 and again.returncode == 0, (first.stderr, again.stderr)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a4.png")), np.asarray(Image.open(tmp_path / "b4.png")))
    other = cli("upscale", tmp_path / "a.png", "--model", "real", "--detail", "0.6", "--backend", "onnx",
                "-o", tmp_path / "c4.png")
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "a4.png")), np.asarray(Image.open(tmp_path / "c4.png")))
    twice = cli("upscale", tmp_path / "a.png", "--model", "real@0.3", "--detail", "0.4", "-o", tmp_path / "d.png")
    _one_line_error(twice, "already names a detail")


def test_scale_mismatch(cli, tmp_path):
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    result = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "bicubic", "--scale", "2")
    assert result.returncode == 2
    _one_line_error(result, "4x", "2x")


def test_missing_input_file(cli, tmp_path):
    result = cli("upscale", tmp_path / "missing.png", "-o", tmp_path / "b.png", "--model", "bicubic")
    assert result.returncode == 1
    _no_traceback(result)
    assert result.stdout == ""  # errors never go to stdout
    _one_line_error(result, "missing.png", "no such file")  # a single-file run: one line


def test_usage_errors(cli):
    for argv in (["upscale"], ["upscale", "x.png", "--no-such-option"], ["frobnicate"], []):
        result = cli(*argv)
        assert result.returncode == 2
        _no_traceback(result)


# --- streams, exit codes, --outscale, formats and metadata (issue 16) ---------------------------

def test_streams_and_exit_codes_of_a_folder_with_bad_files(cli, tmp_path):
    """Results on stdout, every error and the failure summary on stderr; 1 when some inputs failed."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(smooth_rgb(6, 5, seed=1)).save(inputs / "good.png")
    (inputs / "broken.png").write_bytes(b"not a png")
    result = cli("upscale", inputs, tmp_path / "missing.png", "-o", tmp_path / "out", "--model", "bicubic",
                 "--no-progress")
    assert result.returncode == 1
    _no_traceback(result)
    assert result.stdout.splitlines() == [f"wrote {tmp_path / 'out' / 'good_bicubic_x4.png'} (24x20)"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and any("broken.png" in e for e in errors) and any("missing.png" in e for e in errors)
    assert "2 of 3 input(s) failed:" in result.stderr
    assert (tmp_path / "out" / "good_bicubic_x4.png").is_file()
    ok = cli("upscale", inputs / "good.png", "-o", tmp_path / "one.png", "--model", "bicubic")
    assert ok.returncode == 0 and ok.stderr == ""
    assert ok.stdout.splitlines() == [f"wrote {tmp_path / 'one.png'} (24x20)"]  # one file: one line


def test_several_inputs_beside_them_one_line_each(cli, tmp_path):
    """Without -o, several inputs: one stdout line per written file, with its path (what docs/cli.md promises)."""
    for i, name in enumerate(("a.png", "b.jpg", "c.tif", "d.bmp")):  # TIFF and BMP are inputs like any other
        Image.fromarray(smooth_rgb(6, 5, seed=i)).save(tmp_path / name)
    result = cli("upscale", *(tmp_path / n for n in ("a.png", "b.jpg", "c.tif", "d.bmp")), "--model", "bicubic",
                 "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {tmp_path / f'{n}_bicubic_x4.png'} (24x20)" for n in "abcd"]
    assert all((tmp_path / f"{n}_bicubic_x4.png").is_file() for n in "abcd")


def test_bad_inputs_are_reported_before_any_model_loads(cli, tmp_path, monkeypatch):
    """A missing or unreadable input is found from its header before the model loads: with no usable input,
    no model is loaded at all (exit 1, one error per input)."""
    import sr_core.cli

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(sr_core.cli, "_load", no_loading)
    (tmp_path / "text.jpg").write_text("not an image")
    result = cli("upscale", tmp_path / "missing.png", tmp_path / "text.jpg", "--model", "real", "--no-progress")
    assert result.returncode == 1 and result.stdout == ""
    _no_traceback(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "no such file" in errors[0] and "not an image format" in errors[1]


def test_version_and_help_texts(cli):
    from sr_core import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip().endswith(__version__)
    import sr_core.cli

    upscale = sr_core.cli.build_parser()._subparsers._group_actions[0].choices["upscale"]
    helps = {a.dest: a.help for a in upscale._actions}
    assert helps["tile_overlap"] and "overlap" in helps["tile_overlap"]
    assert "TIFF" in helps["inputs"] and "BMP" in helps["inputs"]


def test_bad_usage_exits_2_with_a_message(cli, tmp_path):
    Image.fromarray(smooth_rgb(5, 5)).save(tmp_path / "a.png")
    for argv in (["--outscale", "0"], ["--outscale", "two"], ["--quality", "101"], ["--ext", "gif"],
                 ["-o", tmp_path / "b.unknownext"]):
        result = cli("upscale", tmp_path / "a.png", "--model", "bicubic", *argv)
        assert result.returncode == 2, (argv, result.stderr)
        _no_traceback(result)
        assert result.stdout == "" and "error" in result.stderr, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("outscale, size", [(None, (44, 28)), ("2", (22, 14)), ("3", (33, 21)), ("1.5", (16, 10)),
                                            ("4", (44, 28))])
def test_outscale_output_sizes(cli, tmp_path, bicubic, outscale, size):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_rgb(11, 7)).save(src)
    extra = ["--outscale", outscale] if outscale else []
    result = cli("upscale", src, "--model", "bicubic", *extra)  # no -o: beside the input
    assert result.returncode == 0, result.stderr
    label = outscale or "4"
    dst = tmp_path / f"in_bicubic_x{label}.png"
    assert result.stdout.strip() == f"wrote {dst} ({size[0]}x{size[1]})"
    with Image.open(dst) as im:
        assert im.size == size
        if outscale in (None, "4"):  # the model's own scale: the network output, not resampled
            assert np.array_equal(np.asarray(im), np.asarray(upscale(bicubic, src)))
        if outscale == "2":  # 4x then Lanczos down to 2x: close to the 4x output downscaled
            ref = upscale(bicubic, src).resize(size, Image.Resampling.LANCZOS)
            assert np.array_equal(np.asarray(im), np.asarray(ref))


def test_default_output_for_a_folder(cli, tmp_path):
    inputs = tmp_path / "photos"
    (inputs / "sub").mkdir(parents=True)
    Image.fromarray(smooth_rgb(5, 4, seed=1)).save(inputs / "a.png")
    Image.fromarray(smooth_rgb(4, 5, seed=2)).save(inputs / "sub" / "b.png")
    result = cli("upscale", inputs, "--model", "bicubic", "--outscale", "2", "--ext", "jpg", "--no-progress")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "photos_bicubic_x2"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a_bicubic_x2.jpg", "sub/b_bicubic_x2.jpg"]
    assert sorted(p.name for p in inputs.iterdir()) == ["a.png", "sub"]  # nothing written into the input folder


def _exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "TestCam"  # Make
    return exif.tobytes()


@pytest.mark.parametrize("ext, fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP")])
def test_format_quality_and_metadata_round_trip(cli, tmp_path, ext, fmt):
    """The format follows the extension; the ICC profile and EXIF survive; the orientation is applied once
    (a portrait photo stored landscape with orientation 6 comes out portrait) and reset to 1."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "photo.jpg"
    Image.fromarray(smooth_rgb(12, 8)).save(src, quality=95, exif=_exif_with_orientation(6), icc_profile=icc)
    sizes = {}
    for quality in ("30", "95"):
        dst = tmp_path / f"out_q{quality}{ext}"
        result = cli("upscale", src, "-o", dst, "--model", "bicubic", "--quality", quality)
        assert result.returncode == 0, result.stderr
        with Image.open(dst) as im:
            assert im.format == fmt
            assert im.size == (32, 48)  # 12 x 8 stored, rotated by the EXIF orientation to 8 x 12, then x4
            assert im.info.get("icc_profile") == icc
            exif = im.getexif()
            assert exif.get(0x010F) == "TestCam" and exif.get(0x0112, 1) == 1
        sizes[quality] = dst.stat().st_size
    if fmt == "PNG":
        assert sizes["30"] == sizes["95"]  # lossless: --quality does not apply
    else:
        assert sizes["30"] < sizes["95"]


def test_models_table_columns_line_up(cli):
    result = cli("models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    for column in ("scale", "parameters"):  # right-aligned: every row's cell ends where the header's does
        end = header.index(column) + len(column)
        for line in lines[1:]:
            assert line[end - 1].isdigit() or line[end - 1] == "-", (column, line)
            assert line[end] == " ", (column, line)
    start = header.index("weights")
    assert all(line[start - 1] == " " and line[start] != " " for line in lines[1:])
    assert any(line.startswith("swift-srgan") for line in lines)
