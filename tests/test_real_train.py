"""The ``real`` models' training pieces: unsharp masking, the U-Net discriminator, and tiny runs of
``train.real`` (the pixel stage on the real degradation; the GAN stage with the U-Net discriminator, the
sharpened targets and a bit-exact resume)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import run_python, smooth_rgb, tiny_train_files

from sr_core import config
from sr_core.degradations import usm_sharp
from sr_core.nets import UNetDiscriminatorSN

DATA = config.data_root()
T91 = DATA / "sr_train" / "T91"


def _usm_reference(img: np.ndarray, weight=0.5, radius=50, threshold=10) -> np.ndarray:
    """BasicSR's ``usm_sharp`` (``basicsr/utils/img_process_util.py``, used by Real-ESRGAN), OpenCV on HWC float."""
    radius += 1 - radius % 2
    blur = cv2.GaussianBlur(img, (radius, radius), 0)
    residual = img - blur
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft = cv2.GaussianBlur(mask, (radius, radius), 0)
    sharp = np.clip(img + weight * residual, 0, 1)
    return soft * sharp + (1 - soft) * img


def test_usm_sharp_matches_the_opencv_reference():
    img = smooth_rgb(96, 80, seed=3).astype(np.float32) / 255
    img[30:50, 20:70] = 0.9  # a hard-edged patch: residuals above the threshold
    ours = usm_sharp(torch.from_numpy(img).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    ref = _usm_reference(img)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ref - img).max() > 0.05  # it did sharpen something


def test_usm_sharp_leaves_flat_images_and_stays_in_range():
    flat = torch.full((2, 3, 64, 64), 0.4)
    assert torch.allclose(usm_sharp(flat), flat, atol=1e-6)
    x = torch.rand(1, 3, 64, 64)
    y = usm_sharp(x)
    assert y.min() >= 0 and y.max() <= 1


def test_unet_discriminator_gives_a_logit_per_pixel_and_is_spectrally_normalised():
    d = UNetDiscriminatorSN(num_features=8)
    out = d(torch.rand(2, 3, 48, 40))
    assert out.shape == (2, 1, 48, 40)
    normalised = [n for n, _ in d.named_modules() if n.endswith("parametrizations.weight")]
    assert len(normalised) == 3 + 3 + 2  # down, up and the two extra convolutions; not the first or the last
    with pytest.raises(ValueError, match="multiples of 8"):
        d(torch.rand(1, 3, 36, 40))


def test_unet_skips_change_the_output():
    torch.manual_seed(0)
    a = UNetDiscriminatorSN(num_features=8)
    b = UNetDiscriminatorSN(num_features=8, skip=False)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 32, 32)
    a.eval(), b.eval()
    assert not torch.allclose(a(x), b(x))


_run = run_python


needs_data = pytest.mark.skipif(not T91.is_dir(), reason=f"training data not found under {DATA}")


@needs_data
@pytest.mark.timeout(2400)
def test_real_pixel_then_gan_stage_with_unet_discriminator_resumes_bit_exact(tmp_path, monkeypatch):
    """The two stages as the recipes run them, tiny: real-psnr (L1, real degradation) and real (GAN from it,
    U-Net discriminator, unsharp-masked targets, the mesh loss); the GAN run paused and resumed ends where a
    straight one does."""
    from sr_core.training import load_state

    common = ["-m", "train.real", "--tiny", "--no-progress", "--no-plot", f"--train_dirs={tiny_train_files()}",
              "--deterministic", "--threads=1"]
    _run(tmp_path, *common, "--recipe=psnr", "--name=psnr", "--max_iters=2", "--mix=bicubic:0.5,real:0.5")
    psnr_dir = tmp_path / "runs" / "psnr"
    val = [json.loads(line) for line in (psnr_dir / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in val if r["kind"] == "val"]
    assert val and all(r["degradation"] == "real-mix" for r in val)  # the recipe default
    # a mix also validates on the clean task (bicubic LR), which differs from the real-degraded one
    assert all(10 < r["clean_psnr"] < 60 and r["clean_psnr"] != r["psnr"] for r in val)
    from train import ship

    monkeypatch.setenv("SR_WEIGHTS_DIR", str(tmp_path / "shipped"))
    ship.main([str(psnr_dir), "tiny-real-psnr", "--sets", "Set5"])
    card = (tmp_path / "shipped" / "tiny-real-psnr" / "README.md").read_text()
    assert "components bicubic:0.5,real:0.5" in card and f"(clean bicubic LR: {val[-1]['clean_psnr']:.3f} dB)" in card
    gan = [*common, "--recipe=gan", "--init_from=runs/psnr/weights", "--max_iters=4", "--content_weight=0",
           "--mesh_weight=1000"]
    _run(tmp_path, *gan, "--name=straight")
    _run(tmp_path, *gan, "--name=resumed", "--stop_at=2")
    out = _run(tmp_path, *gan, "--name=resumed", "--resume")
    assert "resumed runs/resumed at iteration 2" in out
    sa = load_state(tmp_path / "runs" / "straight" / "state.pt")
    sb = load_state(tmp_path / "runs" / "resumed" / "state.pt")
    assert sa["iter"] == sb["iter"] == 4
    for key in ("generator", "ema", "discriminator"):
        assert sa[key].keys() == sb[key].keys()
        assert all(torch.equal(sa[key][k], sb[key][k]) for k in sa[key]), key
    assert any("parametrizations.weight" in k for k in sa["discriminator"])  # the U-Net with spectral norm
    cfg = json.loads((tmp_path / "runs" / "straight" / "weights" / "config.json").read_text())
    assert cfg["training"]["usm_hr"] and cfg["training"]["discriminator"] == "unet"
    assert cfg["degradation"] == "real-mix" and cfg["arch"] == "fastsr"
    rows = [json.loads(line) for line in (tmp_path / "runs" / "straight" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    assert {"g_adv", "g_pixel", "g_mesh", "loss_d"} <= train[0].keys()
    assert cfg["training"]["mesh_weight"] == 1000


def test_soup_averages_two_checkpoints_of_one_network(tmp_path):
    """``train.soup``: (1 - w) x A + w x B per parameter, with B's config and both named; two different networks
    are refused."""
    from sr_core.checkpoint import load_model, save_pretrained
    from sr_core.nets import build_preset
    from train import soup

    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(build_preset("fast", num_features=8, num_blocks=1))
        save_pretrained(nets[-1], tmp_path / f"n{seed}", name="fast")
    out = soup.soup(tmp_path / "n0", tmp_path / "n1", 0.25, tmp_path / "soup")
    got = load_model(out).state_dict()
    a, b = nets[0].state_dict(), nets[1].state_dict()
    for k in a:  # stored as float16
        assert torch.allclose(got[k], 0.75 * a[k] + 0.25 * b[k], atol=2e-3, rtol=2e-3), k
    cfg = json.loads((out / "config.json").read_text())
    assert set(cfg["soup"]["weights"].values()) == {0.75, 0.25}
    torch.manual_seed(2)
    save_pretrained(build_preset("fast", num_features=12, num_blocks=1), tmp_path / "other", name="fast")
    with pytest.raises(ValueError, match="not the same network"):
        soup.soup(tmp_path / "n0", tmp_path / "other", 0.5, tmp_path / "bad")
    with pytest.raises(ValueError, match="weight"):
        soup.soup(tmp_path / "n0", tmp_path / "n1", 1.5, tmp_path / "bad")


def test_bf16_autocast_falls_back_to_float32_where_the_cpu_only_emulates_it(capsys):
    from train.config import TrainConfig
    from train.loop import resolve_amp

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    bf16 = TrainConfig(amp="bf16")
    assert resolve_amp(bf16, cpu, native_bf16=False).amp == "none"
    assert "no native bfloat16" in capsys.readouterr().err
    assert resolve_amp(bf16, cpu, native_bf16=True).amp == "bf16"
    assert resolve_amp(bf16, cuda, native_bf16=False).amp == "bf16"
    assert resolve_amp(TrainConfig(amp="none"), cpu, native_bf16=True).amp == "none"
    assert capsys.readouterr().err == ""
