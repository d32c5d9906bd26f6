"""End to end: ``python app.py`` in a subprocess, driven through its API with ``gradio_client``.

The server gets its own weights folder (holding one tiny SRResNet, so the
"trained weights are picked up" path is covered), temp folders and port, and is
always stopped at the end. No network: everything is on 127.0.0.1.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import sr_core  # noqa: E402
from benchmarks.app_server import running_app  # noqa: E402
from sr_core.io import to_tensor  # noqa: E402

EXAMPLES = REPO_ROOT / "demo" / "examples"
MAX_PIXELS = 200_000
STARTUP_TIMEOUT = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start ``python app.py`` on a free port; yield its URL; always stop it."""
    root = tmp_path_factory.mktemp("app_e2e")
    weights = root / "weights"
    torch.manual_seed(0)
    sr_core.save_pretrained(sr_core.build_preset("srresnet", num_features=8, num_blocks=1), weights / "srresnet",
                            name="srresnet")
    for sub in ("tmp", "gradio"):
        (root / sub).mkdir()
    env = {"SR_WEIGHTS_DIR": str(weights), "SR_APP_MAX_PIXELS": str(MAX_PIXELS), "SR_DEVICE": "cpu",
           "TMPDIR": str(root / "tmp"), "GRADIO_TEMP_DIR": str(root / "gradio")}
    with running_app(root / "server.log", env, timeout=STARTUP_TIMEOUT) as (_, url):
        yield url


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return Client(server, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def test_only_the_public_endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert sorted(api["named_endpoints"]) == ["/compare", "/upscale", "/upscale_files", "/upscale_video"]
    assert not api["unnamed_endpoints"]


def test_upscale_scale_and_format_parameters(client):
    src = EXAMPLES / "dog_4014.jpg"
    out, info = client.predict(handle_file(str(src)), "bicubic", 2, "WebP", api_name="/upscale")
    w, h = Image.open(src).size
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.size == (2 * w, 2 * h)
    assert info["scale"] == 2 and info["format"] == "WebP"


@pytest.mark.parametrize("model", ["bicubic", "srresnet"])
def test_upscale(client, model):
    src = EXAMPLES / "dog_4014.jpg"
    png, info = client.predict(handle_file(str(src)), model, api_name="/upscale")
    w, h = Image.open(src).size
    with Image.open(png) as out:
        assert out.format == "PNG" and out.size == (4 * w, 4 * h)
    assert info["model"] == model and info["input_size"] == [w, h] and info["output_size"] == [4 * w, 4 * h]
    assert math.isfinite(info["seconds"])


def test_compare_standard(client):
    lr, bic, sr, hr, readouts = client.predict(handle_file(str(EXAMPLES / "bird_bsd100.png")), "srresnet", "standard",
                                               api_name="/compare")
    images = [Image.open(p).convert("RGB") for p in (lr, bic, sr, hr)]
    assert {im.size for im in images} == {(240, 240)}
    assert readouts["hr_size"] == [240, 240] and readouts["lr_size"] == [60, 60] and readouts["model"] == "srresnet"
    hr_t = to_tensor(images[3])
    for key, img in (("bicubic", images[1]), ("sr", images[2])):
        psnr, ssim = readouts["metrics"][key]["psnr"], readouts["metrics"][key]["ssim"]
        assert isinstance(psnr, float) and math.isfinite(psnr) and 0 < ssim <= 1
        assert psnr == pytest.approx(float(sr_core.psnr(to_tensor(img), hr_t, crop_border=4)[0]), abs=1e-3)
    for name, entry in readouts["classifiers"].items():
        label = "classifier " + name[-1].upper()
        if entry["available"]:
            for key in ("hr", "bicubic", "sr"):
                p_cat, p_dog = entry[key]["cat"], entry[key]["dog"]
                assert 0 <= p_cat <= 1 and p_cat + p_dog == pytest.approx(1, abs=1e-3)
        else:
            assert entry["message"].startswith(f"{label}: not available")


def test_compare_catdog_preset(client):
    *paths, readouts = client.predict(handle_file(str(EXAMPLES / "cat_4003.jpg")), "bicubic", "catdog32",
                                      api_name="/compare")
    assert [Image.open(p).size for p in paths] == [(128, 128)] * 4
    assert readouts["lr_size"] == [32, 32]
    assert readouts["metrics"]["sr"] == readouts["metrics"]["bicubic"]


def test_bad_requests_give_clear_errors_and_the_server_keeps_serving(client, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not an image")
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((500, 500, 3), np.uint8)).save(big)
    small = str(EXAMPLES / "dog_4014.jpg")
    cases = [((handle_file(small), "no-such-model"), "/upscale", "Unknown model"),
             ((handle_file(small), "srgan"), "/upscale", "no weights yet"),
             ((handle_file(str(not_image)), "bicubic"), "/upscale", "Could not read"),
             ((handle_file(str(big)), "bicubic"), "/upscale", f"at most {MAX_PIXELS:,} pixels"),
             ((handle_file(str(big)), "bicubic", "standard"), "/compare", f"at most {MAX_PIXELS:,} pixels"),
             ((handle_file(small), "bicubic", "nope"), "/compare", "nope")]
    for args, endpoint, expected in cases:
        with pytest.raises(AppError) as excinfo:
            client.predict(*args, api_name=endpoint)
        assert expected in str(excinfo.value), (endpoint, args[1:], str(excinfo.value))
    png, info = client.predict(handle_file(small), "nearest", api_name="/upscale")  # still serving
    assert Image.open(png).size == tuple(4 * s for s in Image.open(small).size)


def test_upscale_video(client, tmp_path):
    """``/upscale_video``: a clip of 7 frames with sound in, the MP4 at 4x (twice: player and download) and its
    summary out; a file that is not a video gives a one-line error."""
    av = pytest.importorskip("av")
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", size=(32, 24))
    player, download, summary = client.predict(handle_file(str(clip)), "bicubic", 4, api_name="/upscale_video")
    for path in (player, download):
        with av.open(str(path)) as c:
            assert [(f.width, f.height) for f in c.decode(video=0)] == [(128, 96)] * 7
            assert c.streams.audio[0].codec_context.name == "aac"
    assert "**7** frames" in summary and "aac copied" in summary
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video")
    with pytest.raises(AppError, match="notes.mp4: not a video"):
        client.predict(handle_file(str(not_video)), "bicubic", api_name="/upscale_video")
