"""The shipped ``real`` models on a noisy JPEG, the case they exist for (the real-photos issue).

A Set5 image is made into a "real" low-quality photo by hand, not by ``sr_core.degradations``: Pillow bicubic
4x down, Gaussian noise (sigma 8/255, fixed seed) and JPEG at quality 60.
On it ``real-psnr`` and ``real`` do not amplify the noise and the 8x8 blocks: the high-frequency energy of
their output (the output minus its 3x3 box blur) stays below srresnet's, which sharpens both. (PSNR against
the original is measured in ``benchmarks/real.py`` on degraded BSD100, not asserted here: on an input this mild
``real-psnr``, trained on Real-ESRGAN's much heavier default degradations, smooths more than it needs to.)

Skipped when the weights or Set5 are absent.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from sr_core import config, has_weights, load_model, upscale_tensor
from sr_core.io import to_tensor

NAMES = ("srresnet", "real-psnr", "real")
pytestmark = pytest.mark.skipif(not all(has_weights(n) for n in NAMES),
                                reason="real / real-psnr / srresnet weights absent")


def _noisy_jpeg(hr: Image.Image) -> Image.Image:
    lr = hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)
    rng = np.random.default_rng(0)
    arr = np.asarray(lr).astype(np.float32) + rng.normal(0, 8, (lr.height, lr.width, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)).save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _high_frequency(x: torch.Tensor) -> float:
    blur = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return float((x - blur)[..., 4:-4, 4:-4].abs().mean())


@pytest.fixture(scope="module")
def outputs():
    path = config.benchmark_dir("Set5") / "baby.png"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    hr = Image.open(path).convert("RGB")
    hr = hr.crop((0, 0, hr.width // 4 * 4, hr.height // 4 * 4))
    lr = to_tensor(_noisy_jpeg(hr))
    out = {"hr": to_tensor(hr), "bicubic": upscale_tensor(load_model("bicubic"), lr)}
    with torch.no_grad():
        for name in NAMES:
            out[name] = upscale_tensor(load_model(name), lr).clamp(0, 1)
    return out


def test_real_models_do_not_amplify_noise_and_blocks(outputs):
    hf = {k: _high_frequency(v) for k, v in outputs.items()}
    assert hf["real-psnr"] < 0.7 * hf["srresnet"], hf
    assert hf["real"] < hf["srresnet"], hf
