"""Other projects' released weights, re-implemented here: they load, and reproduce their figures."""

from __future__ import annotations

import numpy as np
import pytest

from sr_core import load_model
from sr_core.inference import upscale_tensor
from sr_core.metrics import psnr, ssim
from sr_core.nets import count_parameters
from benchmarks.peers import PEER_FILES, available_peers, convert_swift_srgan_state, load_peer

# Parameter counts from ../shared/peers/README.md. Our Swift-SRGAN drops the 17 PReLU(64) the release
# stores but never applies (residual.i.block2.act, convblock.act).
PARAMETERS = {"swift-srgan-official": 201_209 - 17 * 64, "srgan-leftthomas": 734_092, "fsrcnn": 12_809,
              "vdsr": 664_704, "imdn": 715_176, "realesr-general-x4v3": 1_213_296}
BICUBIC_PEERS = [n for n in PEER_FILES if n != "realesr-general-x4v3"]  # trained for the bicubic protocol


def _need(peers_dir, name):
    if not (peers_dir / PEER_FILES[name]).is_file():
        pytest.skip(f"{PEER_FILES[name]} not in {peers_dir}")


def test_swift_srgan_official_reproduces_set5(peers_dir, set5_dir):
    """README of the peer weights: 30.01 dB / 0.8495 on Set5 4x (Y, 4-pixel border, Pillow-bicubic LR)."""
    from sr_core.data import load_eval_set

    _need(peers_dir, "swift-srgan-official")
    model = load_peer("swift-srgan-official")
    assert not model.training
    ps, ss = [], []
    for _, lr, hr in load_eval_set(set5_dir, 4):
        sr = upscale_tensor(model, lr, tile=0)
        ps.append(psnr(sr, hr, crop_border=4).item())
        ss.append(ssim(sr, hr, crop_border=4).item())
    assert np.mean(ps) == pytest.approx(30.0, abs=0.05)
    assert np.mean(ss) == pytest.approx(0.8495, abs=0.002)


def test_imdn_reproduces_set5(peers_dir, set5_dir):
    """README of the peer weights: IMDN 32.21 dB / 0.8948 on Set5 4x."""
    from sr_core.data import load_eval_set

    _need(peers_dir, "imdn")
    model = load_peer("imdn")
    ps, ss = [], []
    for _, lr, hr in load_eval_set(set5_dir, 4):
        sr = upscale_tensor(model, lr, tile=0)
        ps.append(psnr(sr, hr, crop_border=4).item())
        ss.append(ssim(sr, hr, crop_border=4).item())
    assert np.mean(ps) == pytest.approx(32.21, abs=0.02)
    assert np.mean(ss) == pytest.approx(0.8948, abs=0.002)


def test_real_world_peer_loads_and_keeps_the_picture(peers_dir, set5_dir):
    """Real-ESRGAN's compact model is not a bicubic-protocol model: it loads strictly, and its output stays close
    to the HR image (well above a flat grey guess), with the nearest-upsampled input as its skip."""
    from sr_core.data import load_eval_set

    name = "realesr-general-x4v3"
    _need(peers_dir, name)
    model = load_peer(name)
    assert count_parameters(model) == PARAMETERS[name]
    pairs = {n: (lr, hr) for n, lr, hr in load_eval_set(set5_dir, 4)}
    lr, hr = pairs["bird"]
    sr = upscale_tensor(model, lr, tile=0)
    assert sr.shape == hr.shape
    assert psnr(sr, hr, crop_border=4).item() > 25
    assert psnr(sr, hr, crop_border=4).item() > psnr(hr * 0 + 0.5, hr, crop_border=4).item() + 10


@pytest.mark.parametrize("name", BICUBIC_PEERS)
def test_peer_loads_and_beats_bicubic(peers_dir, set5_dir, name):
    """Every peer loads strictly (names and shapes) and, on two Set5 crops, is clearly better than bicubic."""
    from sr_core.data import load_eval_set

    _need(peers_dir, name)
    model = load_peer(name)
    assert count_parameters(model) == PARAMETERS[name]
    bicubic = load_model("bicubic")
    pairs = {n: (lr, hr) for n, lr, hr in load_eval_set(set5_dir, 4)}
    for image in ("bird", "butterfly"):
        lr, hr = pairs[image]
        lr, hr = lr[..., 8:40, 8:40], hr[..., 32:160, 32:160]
        sr = upscale_tensor(model, lr, tile=0)
        assert sr.shape == hr.shape
        gain = psnr(sr, hr, crop_border=4).item() - psnr(upscale_tensor(bicubic, lr, tile=0), hr, crop_border=4).item()
        assert gain > 1.0, f"{name} on {image}: {gain:+.2f} dB over bicubic"


def test_available_peers_lists_present_files(tmp_path, monkeypatch):
    """A peers folder beside the data root holding only some of the files: exactly those peers are listed, in
    the table's order; a missing folder lists none."""
    monkeypatch.setenv("SR_DATA_ROOT", str(tmp_path / "data"))
    assert available_peers() == []
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "vdsr_x4.safetensors").write_bytes(b"x")
    (peers / "fsrcnn_x4.safetensors").write_bytes(b"x")
    (peers / "imdn_x4.safetensors").mkdir()        # a folder of that name is not the file
    (peers / "esrgan_x4.safetensors").write_bytes(b"x")  # not a known peer
    assert available_peers() == ["fsrcnn", "vdsr"]


def test_unknown_peer():
    with pytest.raises(ValueError, match="unknown peer"):
        load_peer("esrgan")


def test_swift_conversion_rejects_unknown_tensors():
    import torch

    with pytest.raises(KeyError, match="discriminator"):
        convert_swift_srgan_state({"discriminator.0.weight": torch.zeros(1)})
    converted = convert_swift_srgan_state({"initial.cnn.depthwise.weight": torch.zeros(1),
                                           "residual.3.block2.act.weight": torch.zeros(1),
                                           "upsampler.1.conv.pointwise.bias": torch.zeros(1)})
    assert sorted(converted) == ["head.conv.depthwise.weight", "upsample.1.conv.pointwise.bias"]
