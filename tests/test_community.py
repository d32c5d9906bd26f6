"""Community models through spandrel (sr_core.community): layouts, scales, tiling, safety, models folder, hf://, app.

Every model file is made here, in a temporary folder: small randomly initialised
SRVGGNetCompact (Real-ESRGAN's compact network) and RRDB ESRGAN networks built with
spandrel's own architecture classes, saved the ways community files are (a plain
state dict, Real-ESRGAN's ``params`` / ``params_ema``, a Lightning-style ``.ckpt``,
safetensors), plus the real-world peer ``realesr_general_x4v3`` re-saved as a ``.pth``.
Nothing is downloaded: ``hf://`` goes through a mocked ``hf_hub_download``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

pytest.importorskip("spandrel")
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402

import sr_core  # noqa: E402
from sr_core import community  # noqa: E402
from sr_core.checkpoint import CheckpointError  # noqa: E402
from sr_core.inference import auto_tile_size, upscale_tensor  # noqa: E402


def compact(scale: int = 2, seed: int = 0, num_conv: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return Compact(num_feat=8, num_conv=num_conv, upscale=scale).eval()


def rrdb(scale: int = 4, seed: int = 0) -> torch.nn.Module:
    """A one-block, 8-filter ESRGAN whose output is neither clamped flat nor constant (last conv: x4, bias 0.5)."""
    torch.manual_seed(seed)
    net = ESRGAN(num_filters=8, num_blocks=1, scale=scale)
    with torch.no_grad():
        last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.mul_(4)
        last.bias.fill_(0.5)
    return net.eval()


def save(net: torch.nn.Module, path: Path, layout: str) -> Path:
    state = {k: v.clone() for k, v in net.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    elif layout == "plain":
        torch.save(state, path)
    elif layout == "ckpt":
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    else:  # Real-ESRGAN / BasicSR: {"params": ...} or {"params_ema": ...}
        torch.save({layout: state}, path)
    return path


def reference(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).clamp(0, 1)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(0))


# --- layouts and architectures -------------------------------------------------------------------------

@pytest.mark.parametrize("make, scale, arch", [(compact, 2, "RealESRGAN Compact"), (rrdb, 4, "ESRGAN")])
@pytest.mark.parametrize("layout, suffix", [("plain", ".pth"), ("params", ".pth"), ("params_ema", ".pth"),
                                            ("ckpt", ".ckpt"), ("plain", ".safetensors")])
def test_layouts_load_and_match_the_architecture(tmp_path, x, make, scale, arch, layout, suffix):
    net = make(scale)
    path = save(net, tmp_path / f"model{suffix}", layout)
    model = sr_core.load_model(path)
    assert isinstance(model, community.CommunityModel)
    assert model.config["architecture"] == arch and model.config["scale"] == scale == model.scale
    assert model.config["name"] == path.name and not model.training
    out = upscale_tensor(model, x, tile=0, optimize=False)
    assert out.shape == (1, 3, 20 * scale, 28 * scale)
    assert torch.allclose(out, reference(net, x), atol=1e-6)
    assert out.std() > 0.01  # not a flat, clamped image


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 8])
def test_scale_the_file_declares(tmp_path, scale, make_rgb):
    path = save(compact(scale), tmp_path / f"{scale}x.pth", "params")
    model = sr_core.load_model(path)
    assert model.scale == scale
    out = sr_core.upscale(model, make_rgb(13, 9))
    assert out.size == (13 * scale, 9 * scale)


def test_rrdb_scale_2(tmp_path, x):
    net = rrdb(2)
    model = sr_core.load_model(save(net, tmp_path / "rrdb_x2.pth", "params_ema"))
    assert model.scale == 2
    assert torch.allclose(upscale_tensor(model, x, tile=0, optimize=False), reference(net, x), atol=1e-6)


def test_realesr_general_peer_resaved_in_params_layout(tmp_path, peers_dir, x):
    """The real Real-ESRGAN compact release (../shared/peers), as a .pth in Real-ESRGAN's layout: a fixture only."""
    src = peers_dir / "realesr_general_x4v3.safetensors"
    if not src.is_file():
        pytest.skip(f"{src} absent")
    state = load_file(str(src))
    path = tmp_path / "realesr-general-x4v3.pth"
    torch.save({"params": state}, path)
    model = sr_core.load_model(path)
    assert model.config["architecture"] == "RealESRGAN Compact" and model.scale == 4
    assert sum(p.numel() for p in model.parameters()) == 1_213_296  # as ../shared/peers/README.md states
    ref_net = Compact(num_feat=64, num_conv=32, upscale=4).eval()
    ref_net.load_state_dict(state)
    out = upscale_tensor(model, x, tile=0)  # the optimised (channels-last, ...) inference copy
    assert torch.allclose(out, reference(ref_net, x), atol=1e-4)


# --- the project's inference: tiling, batching, dtype, progress, memory ----------------------------------

def test_tiled_batched_low_precision_with_progress(tmp_path, make_rgb):
    net = compact(2)
    model = sr_core.load_model(save(net, tmp_path / "c.pth", "params"))
    img = make_rgb(70, 50)
    calls = []
    whole = sr_core.upscale(model, img, tile=0)
    tiled = sr_core.upscale(model, img, tile=32, tile_overlap=8, batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert tiled.size == whole.size == (140, 100)
    assert calls[-1][0] == calls[-1][1] > 1  # several tiles, all done
    diff = np.abs(np.asarray(tiled, np.int16) - np.asarray(whole, np.int16))
    # a 3-conv network, tiles overlapping by exactly 8 px (evenly spread, inference._grid): the blend gives no
    # weight to the outer quarter of a tile's overlap, next to its zero padding, so seams are off by one level at most
    assert diff.max() <= 1 and diff.mean() < 0.05
    low = sr_core.upscale(model, img, tile=32, tile_overlap=8, dtype="bfloat16")
    assert np.abs(np.asarray(low, np.int16) - np.asarray(whole, np.int16)).mean() < 3


def test_size_requirements_pad_and_crop(tmp_path, x):
    """A network that needs multiples of 8 (SwinIR-like window sizes) sees padded input; the output is cropped back."""
    model = sr_core.load_model(save(compact(2), tmp_path / "c.pth", "params"))
    model.multiple_of = 8
    seen = []
    handle = model.net.register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape[-2:])))
    out = model(x)
    handle.remove()
    assert seen == [(24, 32)] and out.shape[-2:] == (40, 56)


def test_memory_estimate_bounds_the_tile(tmp_path):
    small = sr_core.load_model(save(compact(2), tmp_path / "c.pth", "params"))
    big = sr_core.load_model(save(rrdb(4), tmp_path / "r.pth", "params"))
    budget = 64 * 2 ** 20
    for model in (small, big):
        tile = auto_tile_size(model, budget=budget)
        assert 64 <= tile <= 1024
        assert tile * tile * model.bytes_per_input_pixel <= budget or tile == 64
    assert big.bytes_per_input_pixel > small.bytes_per_input_pixel


def test_dtype_unsupported_by_the_architecture_falls_back_to_float32(tmp_path, x):
    model = sr_core.load_model(save(compact(2), tmp_path / "c.pth", "params"))
    model.supports_bfloat16 = False
    exact = upscale_tensor(model, x, tile=0)
    assert torch.equal(upscale_tensor(model, x, tile=0, dtype="bfloat16"), exact)


# --- safety and bad files -------------------------------------------------------------------------------

class WritesMarker:
    """Unpickling this would create the marker file (pickle calls ``open(marker, 'w')``)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pth", ".ckpt", ".pt"])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, suffix, cli):
    marker = tmp_path / "marker"
    evil = tmp_path / f"evil{suffix}"
    torch.save({"params": {"body.0.weight": torch.zeros(1)}, "payload": WritesMarker(marker)}, evil)
    with pytest.raises(CheckpointError) as err:
        sr_core.load_model(evil)
    message = str(err.value)
    assert "\n" not in message and str(evil) in message and "nothing in it was run" in message
    assert not marker.exists()
    img = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(img)
    result = cli("upscale", img, "-o", tmp_path / "out.png", "--model", evil)
    assert result.returncode != 0 and not marker.exists() and not (tmp_path / "out.png").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(evil) in lines[0] and "Traceback" not in result.stderr


def write_not_a_model(tmp_path: Path, kind: str) -> Path:
    if kind == "text.pth":
        path = tmp_path / "notes.pth"
        path.write_text("these are not weights\n")
    elif kind == "random.safetensors":
        path = tmp_path / "noise.safetensors"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "unknown_tensors.safetensors":
        path = tmp_path / "table.safetensors"
        save_file({"embedding.weight": torch.zeros(10, 4), "head.bias": torch.zeros(4)}, str(path))
    elif kind == "list.pth":
        path = tmp_path / "list.pth"
        torch.save([torch.zeros(2)], path)
    elif kind == "empty.pth":
        path = tmp_path / "empty.pth"
        path.write_bytes(b"")
    else:  # a photo named like a model
        path = tmp_path / "photo.safetensors"
        Image.new("RGB", (4, 4)).save(path, format="PNG")
    return path


@pytest.mark.parametrize("kind", ["text.pth", "random.safetensors", "unknown_tensors.safetensors", "list.pth",
                                  "empty.pth", "png.safetensors"])
def test_a_file_that_is_no_model_gets_one_line_naming_it(tmp_path, kind):
    path = write_not_a_model(tmp_path, kind)
    with pytest.raises(CheckpointError) as err:
        sr_core.load_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_cli_refuses_a_non_model_with_one_line(tmp_path, cli):
    path = write_not_a_model(tmp_path, "unknown_tensors.safetensors")
    img = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(img)
    result = cli("upscale", img, "-o", tmp_path / "out.png", "--model", path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1
    assert str(path) in lines[0] and "spandrel recognises" in lines[0]


def test_unsupported_extension_is_named(tmp_path):
    path = tmp_path / "model.bin"
    torch.save(compact(2).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"model\.bin: not a model file"):
        community.load_community(path)


def test_project_checkpoints_still_use_their_config(tmp_path, tiny_srresnet):
    """A folder / file with config.json beside it is this project's format, not spandrel's."""
    folder = sr_core.save_pretrained(tiny_srresnet, tmp_path / "mine", name="mine")
    assert community.resolve(folder) is None and community.resolve(folder / "model.safetensors") is None
    model = sr_core.load_model(folder / "model.safetensors")
    assert not isinstance(model, community.CommunityModel) and model.config["name"] == "mine"


# --- the models folder ------------------------------------------------------------------------------------

@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "my-models"
    folder.mkdir()
    monkeypatch.setenv("SR_MODELS_DIR", str(folder))
    return folder


def test_default_models_dir_is_outside_weights(monkeypatch, tmp_path):
    from sr_core import config

    monkeypatch.delenv("SR_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert config.models_dir() == tmp_path / "data" / "sr-core" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert config.models_dir() == Path.home() / ".local" / "share" / "sr-core" / "models"
    assert config.weights_dir() not in config.models_dir().parents


def test_models_folder_is_listed_and_loads_by_name(models_dir, cli, tmp_path):
    save(compact(2), models_dir / "2x-tiny-compact.pth", "params")
    save(rrdb(4), models_dir / "4x-tiny-esrgan.safetensors", "plain")
    write_not_a_model(models_dir, "text.pth")
    (models_dir / "readme.txt").write_text("not listed")
    result = cli("models")
    assert result.returncode == 0
    assert str(models_dir) in result.stderr and "readme.txt" not in result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:] if line.strip()}
    assert rows["2x-tiny-compact.pth"][1:4] == ["spandrel", "RealESRGAN", "Compact"]
    assert rows["2x-tiny-compact.pth"][-3:] == ["2", f"{sum(p.numel() for p in compact(2).parameters()):,}",
                                                "SR_MODELS_DIR"]
    assert rows["4x-tiny-esrgan.safetensors"][1:3] == ["spandrel", "ESRGAN"]
    assert rows["4x-tiny-esrgan.safetensors"][-3] == "4"
    assert "unusable:" in rows["notes.pth"] and "notes.pth" in " ".join(rows["notes.pth"][2:])
    assert "srresnet" in rows and "bicubic" in rows  # the shipped models are still listed
    for name in ("2x-tiny-compact.pth", "2x-tiny-compact"):
        assert sr_core.load_model(name).config["name"] == "2x-tiny-compact.pth"
    img = tmp_path / "photo.png"
    Image.new("RGB", (10, 6), (30, 90, 200)).save(img)
    result = cli("upscale", img, "-o", tmp_path / "out.png", "--model", "4x-tiny-esrgan.safetensors")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (40, 24)


def test_empty_models_folder_says_where_to_put_files(models_dir, cli):
    from sr_core.nets import NET_PRESETS

    result = cli("models")
    assert result.returncode == 0 and str(models_dir) in result.stderr and ".pth" in result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()} == set(NET_PRESETS)


def test_shipped_names_win_over_the_models_folder(models_dir):
    save(compact(2), models_dir / "bicubic.pth", "params")
    assert not isinstance(sr_core.load_model("bicubic"), community.CommunityModel)


# --- hf:// ------------------------------------------------------------------------------------------------

def test_hf_address_downloads_through_huggingface_hub(tmp_path, monkeypatch):
    import huggingface_hub

    cached = save(compact(2), tmp_path / "hub-cache-file.pth", "params_ema")
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs.get("local_files_only")))
        return str(cached)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    model = sr_core.load_model("hf://someone/upscalers/2x/tiny.pth")
    assert calls == [("someone/upscalers", "2x/tiny.pth", False)] and model.scale == 2
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sr_core.load_model("hf://someone/upscalers/2x/tiny.pth")
    assert calls[-1][2] is True


@pytest.mark.parametrize("url, match", [("hf://only-owner/file.pth", "expected hf://owner/repo/file.pth"),
                                        ("hf://a/b/readme.md", "not a model file"),
                                        ("hf://a/b/missing.pth", "could not download")])
def test_bad_hf_addresses_get_one_line(monkeypatch, url, match):
    import huggingface_hub

    def missing(repo_id, filename, **kwargs):
        raise huggingface_hub.errors.EntryNotFoundError(f"404 for {filename}\nmore detail")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", missing)
    with pytest.raises(CheckpointError, match=match) as err:
        sr_core.load_model(url)
    assert "\n" not in str(err.value)


# --- the app ---------------------------------------------------------------------------------------------

def test_app_offers_the_models_folder_on_reload(models_dir):
    gr = pytest.importorskip("gradio")
    from demo import callbacks, models

    before = models.model_choices()
    assert "2x-tiny-compact.pth" not in before
    save(compact(2), models_dir / "2x-tiny-compact.pth", "params")
    after = models.model_choices()  # what the page-load refresh asks for
    assert after.index("2x-tiny-compact.pth") < after.index("bicubic")
    models.clear_caches()
    path, info = callbacks.upscale_image(Image.new("RGB", (12, 8), (200, 100, 50)), "2x-tiny-compact.pth")
    assert info["scale"] == 2 and Image.open(path).size == (24, 16)
    with pytest.raises(gr.Error):
        callbacks.resolve_model("not-there.pth")


def test_app_upload_accepts_a_model_and_refuses_bad_ones(tmp_path, monkeypatch):
    gr = pytest.importorskip("gradio")
    from demo import callbacks, custom_models as own, models

    good = save(compact(2, seed=3), tmp_path / "my 2x model.pth", "params")
    name = own.add_upload(good, models.get_model)
    assert name.startswith(own.UPLOAD_PREFIX) and name.endswith("my_2x_model.pth")
    assert callbacks.resolve_model(name) == name and name not in models.model_choices()  # this page's only
    path, info = callbacks.upscale_image(Image.new("RGB", (9, 7)), name)
    assert Image.open(path).size == (18, 14)

    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pth"
    torch.save({"payload": WritesMarker(marker)}, evil)
    with pytest.raises(gr.Error) as err:
        own.add_upload(evil, models.get_model)
    assert "evil.pth" in str(err.value) and str(tmp_path) not in str(err.value) and not marker.exists()
    assert sorted(p.name for p in own.upload_dir().iterdir()) == [name]  # the refused file is not kept

    with pytest.raises(gr.Error, match="not a model file"):
        own.add_upload(write_not_a_model(tmp_path, "text.pth").rename(tmp_path / "notes.txt"), models.get_model)
    monkeypatch.setenv("SR_APP_MAX_MODEL_MB", "0.001")
    with pytest.raises(gr.Error, match=r"at most 0.001 MB"):
        own.add_upload(good, models.get_model)


def test_app_ui_has_the_upload_box():
    pytest.importorskip("gradio")
    from demo.ui import build_ui

    demo = build_ui(lambda *a, **k: None, lambda *a, **k: None, list_models=lambda: ["bicubic"])
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert "model-upload" in ids
