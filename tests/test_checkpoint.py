"""Weights I/O: save_pretrained / load_model round trips, the loader order (path, weights dir, Hub),
safe loading of .pth files, and errors that say what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import _tiny_srresnet
from sr_core import CheckpointError, load_model, save_pretrained
from sr_core.checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_state_dict
from sr_core.nets import SRCNN, SRGANDiscriminator, SRResNet


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch, tmp_path):
    """Every test starts with no Hub repository, an empty weights dir, and online Hub settings."""
    monkeypatch.delenv("SR_HUB_REPO", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "empty_weights_dir"))


@pytest.fixture
def hub(monkeypatch):
    """A fake ``huggingface_hub.hf_hub_download`` serving files from a local folder; records its calls."""
    import huggingface_hub

    class FakeHub:
        root: Path | None = None
        calls: list = []

        def download(self, repo_id, filename, **kwargs):
            self.calls.append((repo_id, filename, kwargs))
            path = self.root / filename if self.root else None
            if path is None or not path.is_file():
                raise huggingface_hub.errors.EntryNotFoundError(f"{filename} not in {repo_id}")
            return str(path)

    fake = FakeHub()
    fake.calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.download)
    return fake


def _batch_norm_srresnet(seed=0):
    torch.manual_seed(seed)
    model = SRResNet(num_features=8, num_blocks=2, scale=2, norm="batch")
    model.train()
    with torch.no_grad():  # non-trivial running statistics
        for _ in range(3):
            model(torch.rand(2, 3, 12, 12))
    return model.eval()


def _same_outputs(a, b, x=None):
    x = torch.rand(1, 3, 10, 9, generator=torch.Generator().manual_seed(1)) if x is None else x
    with torch.no_grad():
        return torch.equal(a(x), b(x))


# --- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [_tiny_srresnet, _batch_norm_srresnet,
                                  lambda: SRCNN(num_features=8, mid_features=4, residual=True),
                                  lambda: _tiny_srresnet(conv="separable", scale=8)],
                         ids=["srresnet", "srresnet-bn", "srcnn", "swift-8x"])
def test_round_trip_gives_identical_outputs(tmp_path, make):
    model = make().eval()
    folder = save_pretrained(model, tmp_path / "m", name="tiny", dataset="synthetic", seed=3)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]  # no temp files left
    cfg = json.loads((folder / CONFIG_FILE).read_text())
    assert cfg["format_version"] == 1 and cfg["io"] == "rgb01" and cfg["dtype"] == "float32"
    assert cfg["hparams"] == json.loads(json.dumps(model.hparams)) and cfg["scale"] == model.hparams["scale"]
    assert cfg["name"] == "tiny" and cfg["dataset"] == "synthetic" and cfg["seed"] == 3
    loaded = load_model(folder)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config["name"] == "tiny"
    assert _same_outputs(model, loaded)
    # the .safetensors file itself, with its config.json beside it
    assert _same_outputs(model, load_model(folder / WEIGHTS_FILE))


def test_round_trip_discriminator(tmp_path):
    model = SRGANDiscriminator(num_features=4, fc_size=8).eval()
    loaded = load_model(save_pretrained(model, tmp_path / "d"))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_round_trip_half(tmp_path):
    model = _batch_norm_srresnet()
    folder = save_pretrained(model, tmp_path / "h", half=True)
    stored = load_file(str(folder / WEIGHTS_FILE))
    assert {v.dtype for k, v in stored.items() if not k.endswith("num_batches_tracked")} == {torch.float16}
    assert json.loads((folder / CONFIG_FILE).read_text())["dtype"] == "float16"
    loaded = load_model(folder)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    rounded = _batch_norm_srresnet()
    with torch.no_grad():
        for t in list(rounded.parameters()) + [b for b in rounded.buffers() if b.is_floating_point()]:
            t.copy_(t.half().float())
    assert _same_outputs(rounded, loaded)
    with torch.no_grad():
        x = torch.rand(1, 3, 10, 9)
        assert (model(x) - loaded(x)).abs().max() < 1e-2  # close to the float32 original


class _Compiled(torch.nn.Module):
    """Laid out like torch.compile's OptimizedModule (the network under ``_orig_mod``), without importing dynamo."""

    def __init__(self, model):
        super().__init__()
        self._orig_mod = model

    def forward(self, x):
        return self._orig_mod(x)


def test_save_strips_wrappers(tmp_path):
    model = _tiny_srresnet()
    for i, wrapped in enumerate([torch.nn.DataParallel(model), _Compiled(model),
                                 torch.nn.DataParallel(_Compiled(model))]):
        assert any(k.startswith(("module.", "_orig_mod.")) for k in wrapped.state_dict())
        folder = save_pretrained(wrapped, tmp_path / f"w{i}")
        keys = list(load_file(str(folder / WEIGHTS_FILE)))
        assert keys and not any(k.startswith(("module.", "_orig_mod.")) for k in keys)
        assert _same_outputs(model, load_model(folder))


# --- loader order -------------------------------------------------------------------------------

def test_explicit_path_wins_over_weights_dir(tmp_path, monkeypatch):
    in_cwd, in_weights = _tiny_srresnet(seed=1), _tiny_srresnet(seed=2)
    monkeypatch.chdir(tmp_path)
    save_pretrained(in_cwd, tmp_path / "mymodel")
    save_pretrained(in_weights, tmp_path / "weights" / "mymodel")
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert _same_outputs(load_model("mymodel"), in_cwd)
    shutil.rmtree(tmp_path / "mymodel")
    assert _same_outputs(load_model("mymodel"), in_weights)


def test_weights_dir_wins_over_hub(tmp_path, monkeypatch, hub):
    local, remote = _tiny_srresnet(seed=1), _tiny_srresnet(seed=2)
    save_pretrained(local, tmp_path / "weights" / "mymodel")
    save_pretrained(remote, tmp_path / "hub" / "mymodel")
    hub.root = tmp_path / "hub"
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    assert _same_outputs(load_model("mymodel"), local)
    assert hub.calls == []  # the local copy is used; the Hub is not even asked


def test_hub_is_used_when_no_local_copy(tmp_path, monkeypatch, hub):
    remote = _tiny_srresnet(seed=2)
    save_pretrained(remote, tmp_path / "hub" / "mymodel", name="mymodel")
    hub.root = tmp_path / "hub"
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    model = load_model("mymodel")
    assert _same_outputs(model, remote)
    assert [(repo, name) for repo, name, _ in hub.calls] == [
        ("someone/sr-weights", f"mymodel/{CONFIG_FILE}"), ("someone/sr-weights", f"mymodel/{WEIGHTS_FILE}")]
    assert all(kw.get("local_files_only") is False for _, _, kw in hub.calls)


def test_hub_offline_asks_only_the_cache(tmp_path, monkeypatch, hub):
    save_pretrained(_tiny_srresnet(), tmp_path / "hub" / "mymodel")
    hub.root = tmp_path / "hub"
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    load_model("mymodel")
    assert hub.calls and all(kw.get("local_files_only") is True for _, _, kw in hub.calls)
    hub.calls.clear()
    load_model("mymodel", local_files_only=False)  # the explicit argument wins over the variable
    assert hub.calls and all(kw.get("local_files_only") is False for _, _, kw in hub.calls)


def test_hub_not_asked_without_sr_hub_repo(tmp_path, hub):
    save_pretrained(_tiny_srresnet(), tmp_path / "hub" / "mymodel")
    hub.root = tmp_path / "hub"
    with pytest.raises(FileNotFoundError):
        load_model("mymodel")
    assert hub.calls == []


def test_not_found_lists_every_place_looked(tmp_path, monkeypatch, hub):
    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "weights"))
    with pytest.raises(FileNotFoundError) as info:
        load_model("nosuchmodel")
    message = str(info.value)
    assert "nosuchmodel" in message
    assert "path nosuchmodel" in message
    assert str(tmp_path / "weights" / "nosuchmodel") in message
    assert "Hugging Face Hub" in message and "SR_HUB_REPO" in message
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    with pytest.raises(FileNotFoundError) as info:
        load_model("nosuchmodel")
    assert "someone/sr-weights/nosuchmodel" in str(info.value) and "EntryNotFoundError" in str(info.value)
    assert len(hub.calls) == 1


def test_folder_without_weights_is_file_not_found(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=WEIGHTS_FILE):
        load_model(tmp_path / "empty")


def test_classical_models_need_no_weights(hub, monkeypatch):
    monkeypatch.setenv("SR_HUB_REPO", "someone/sr-weights")
    for name in ("bicubic", "lanczos", "nearest"):
        model = load_model(name)
        assert model.config["name"] == name and model.config["scale"] == 4
    assert hub.calls == []


# --- .pth files ---------------------------------------------------------------------------------

class _Payload:
    """An object whose unpickling would create a file: stands in for arbitrary code execution."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pth_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    state = dict(_tiny_srresnet().state_dict())
    state["extra"] = _Payload(marker)
    path = tmp_path / "evil.pth"
    torch.save(state, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        read_state_dict(path)
    with pytest.raises(CheckpointError):
        load_model(path, arch="srresnet", num_features=8, num_blocks=1, norm="none", global_skip="bicubic")
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("wrap", [lambda s: s, lambda s: {"params_ema": s, "step": 10},
                                  lambda s: {"state_dict": {f"module._orig_mod.{k}": v for k, v in s.items()}},
                                  lambda s: {f"_orig_mod.{k}": v for k, v in s.items()}],
                         ids=["plain", "params_ema", "module-orig_mod", "orig_mod"])
def test_pth_state_dicts_load(tmp_path, wrap):
    model = _tiny_srresnet()
    path = tmp_path / "weights.pth"
    torch.save(wrap(model.state_dict()), path)
    loaded = load_model(path, arch="srresnet", num_features=8, num_blocks=1, norm="none", global_skip="bicubic")
    assert _same_outputs(model, loaded)


def test_pth_without_config_or_arch(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(_tiny_srresnet().state_dict(), path)
    with pytest.raises(CheckpointError, match="arch"):
        load_model(path)


def test_safetensors_prefixes_stripped(tmp_path):
    model = _tiny_srresnet()
    folder = save_pretrained(model, tmp_path / "m")
    state = load_file(str(folder / WEIGHTS_FILE))
    save_file({f"module.{k}": v for k, v in state.items()}, str(folder / WEIGHTS_FILE))
    assert _same_outputs(model, load_model(folder))


# --- configs that do not match ------------------------------------------------------------------

def _edit_config(folder: Path, **changes):
    cfg = json.loads((folder / CONFIG_FILE).read_text())
    for key, value in changes.items():
        if key in cfg["hparams"]:
            cfg["hparams"][key] = value
        else:
            cfg[key] = value
    (folder / CONFIG_FILE).write_text(json.dumps(cfg))


def test_hparams_with_more_blocks_than_tensors(tmp_path):
    folder = save_pretrained(_tiny_srresnet(), tmp_path / "m")
    _edit_config(folder, num_blocks=2)
    with pytest.raises(CheckpointError) as info:
        load_model(folder)
    assert "missing" in str(info.value) and "body.1." in str(info.value)


def test_hparams_with_other_width_than_tensors(tmp_path):
    folder = save_pretrained(_tiny_srresnet(), tmp_path / "m")
    _edit_config(folder, num_features=16)
    with pytest.raises(CheckpointError) as info:
        load_model(folder)
    assert "shape mismatch" in str(info.value) and "head.conv.weight" in str(info.value)
    assert "(8, 3, 9, 9)" in str(info.value) and "(16, 3, 9, 9)" in str(info.value)


def test_hparams_with_other_norm_than_tensors(tmp_path):
    folder = save_pretrained(_tiny_srresnet(), tmp_path / "m")
    _edit_config(folder, norm="batch")
    with pytest.raises(CheckpointError, match="unexpected|missing"):
        load_model(folder)


@pytest.mark.parametrize("config_text,match", [
    ('{"format_version": 99, "arch": "srresnet", "hparams": {}}', "newer"),
    ('{"hparams": {}}', "arch"),
    ('{"arch": "srresnet", "hparams": {"num_feats": 8}}', "num_feats"),
    ('{"arch": "edsr", "hparams": {}}', "edsr"),
    ('{"arch": "srresnet", "hparams": {"scale": 3}}', "scale"),
    ("not json at all", "JSON"),
])
def test_bad_configs_raise_checkpoint_error(tmp_path, config_text, match):
    folder = save_pretrained(_tiny_srresnet(), tmp_path / "m")
    (folder / CONFIG_FILE).write_text(config_text)
    with pytest.raises(CheckpointError, match=match):
        load_model(folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_safetensors_raise_checkpoint_error(tmp_path, damage):
    folder = save_pretrained(_tiny_srresnet(), tmp_path / "m")
    weights = folder / WEIGHTS_FILE
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage")
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_model(folder)
