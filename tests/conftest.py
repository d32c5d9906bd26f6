"""Shared, generic fixtures: small synthetic images, tiny networks, data locations.

Nothing here touches the network. Fixtures that need the shared data set
(``../shared/data``) or the peer weights (``../shared/peers``) skip the test
when they are absent.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

# The tests use tiny tensors: one intra-op thread is as fast, and on a busy machine (a training run on
# the same cores) several threads spin against each other and make small convolutions ~40x slower.
TEST_THREADS = os.environ.get("SR_TEST_THREADS", "1")
torch.set_num_threads(int(TEST_THREADS))

# Your own models (sr_core.community) are looked for in SR_MODELS_DIR: an empty folder here, so that no test
# (nor a subprocess it starts) sees the model files of whoever runs the suite. Tests that need files set their own.
os.environ["SR_MODELS_DIR"] = tempfile.mkdtemp(prefix="sr-test-models-")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slow test (deselect with -m 'not slow')")


# What `pytest -m "not slow"` leaves out: the tests that take 2 s or more on the 2-core machine with nothing else
# running (`pytest --durations=80`): training chains run as subprocesses, the app started as a server, headless
# Chromium, installs into a fresh folder. The full suite (README's test command) runs them all.
SLOW_MODULES = {"test_app_browser.py", "test_app_browser_video.py", "test_app_load.py", "test_install.py",
                "test_distributed.py", "test_resume_schedules.py", "test_real_train.py",
                "test_train.py"}  # test_train.py: one module fixture starts every training chain at once
SLOW_TESTS = {
    "test_fast.py": {"test_fast_recipe_with_ema_resumes_bit_exact", "test_sprint_packs_trains_and_brings_back_weights",
                     "test_time_limit_stops_and_checkpoints"},
    "test_classifier.py": {"test_train_tiny", "test_classify_cli", "test_report_tiny",
                           "test_report_with_both_and_learned_sr"},
    "test_benchmarks.py": {"test_fast_width_variants_and_a_short_training"},
    "test_train_data.py": {"test_tiny_run_with_real_degradation_in_a_loader_worker",
                           "test_tiny_run_with_blur_degradation"},
    "test_onnx.py": {"test_cli_export_onnx", "test_cli_refuses_classical_models"},
    "test_cli.py": {"test_upscale_with_a_checkpoint_folder"},
    "test_app_e2e.py": None,  # every test shares one app server started per module
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        names = SLOW_TESTS.get(module, set())
        if module in SLOW_MODULES or (module in SLOW_TESTS and names is None) or item.originalname in (names or ()):
            item.add_marker(pytest.mark.slow)


# --- data locations -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def data_root() -> Path:
    from sr_core import config

    return config.data_root()


@pytest.fixture(scope="session")
def set5_dir(data_root) -> Path:
    """HR folder of Set5; skips the test when the shared data is absent."""
    from sr_core import config

    path = config.benchmark_dir("Set5")
    if not path.is_dir() or not any(path.iterdir()):
        pytest.skip(f"Set5 not found at {path} (shared data absent)")
    return path


@pytest.fixture(scope="session")
def peers_dir() -> Path:
    """Folder of the peer projects' weights; skips the test when absent."""
    from benchmarks.peers import peers_dir as _peers_dir

    path = _peers_dir()
    if not path.is_dir():
        pytest.skip(f"peer weights not found at {path}")
    return path


# --- synthetic images ---------------------------------------------------------------------------

def smooth_rgb(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A (height, width, 3) uint8 picture: smooth gradients, an edge and a little noise (natural-ish content)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(xx / 5.0 + seed) * np.cos(yy / 7.0)
    g = 60 + 150 * (xx + yy) / max(width + height - 2, 1)
    b = np.where(xx > width / 2, 200.0, 40.0) + 20 * np.cos(yy / 3.0)
    arr = np.stack([r, g, b], -1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


@pytest.fixture
def make_rgb():
    """Factory: ``make_rgb(width, height, seed=0) -> PIL RGB image``."""
    def make(width: int, height: int, seed: int = 0) -> Image.Image:
        return Image.fromarray(smooth_rgb(width, height, seed), "RGB")
    return make


@pytest.fixture
def rgb_image() -> Image.Image:
    """A 23 x 17 RGB image (odd, non-square)."""
    return Image.fromarray(smooth_rgb(23, 17), "RGB")


@pytest.fixture
def rgb_tensor() -> torch.Tensor:
    """A (1, 3, 20, 28) float32 tensor in [0, 1]."""
    return torch.from_numpy(smooth_rgb(28, 20)).permute(2, 0, 1)[None].float() / 255


# --- models -------------------------------------------------------------------------------------

def _tiny_srresnet(seed: int = 0, tail_gain: float = 0.1, **overrides) -> torch.nn.Module:
    """Random 4x SRResNet with 8 features and 1 block; ``tail_gain`` scales the residual it adds to bicubic
    (0.1: about 2 grey levels, so outputs are neither flat nor saturated; 1.0: about 15 grey levels)."""
    from sr_core.nets import SRResNet

    torch.manual_seed(seed)
    hparams = dict(num_features=8, num_blocks=1, scale=4, norm="none", global_skip="bicubic")
    model = SRResNet(**{**hparams, **overrides})
    with torch.no_grad():
        for p in model.tail.parameters():
            p.mul_(tail_gain)
    return model.eval()


@pytest.fixture
def tiny_srresnet() -> torch.nn.Module:
    """A randomly initialised 4x SRResNet (8 features, 1 block, bicubic global skip), eval mode."""
    return _tiny_srresnet()


@pytest.fixture(scope="session")
def bicubic():
    from sr_core import load_model

    return load_model("bicubic")


# --- command line -------------------------------------------------------------------------------

class CLIProcess:
    """``python -m sr_core ...`` started in the repository root; ``result()`` waits for it.

    Starting several before waiting on any lets independent CLI runs overlap: each run spends most of its
    time importing torch, which on a busy 2-core machine takes far longer in wall time than in CPU time.
    """

    def __init__(self, *args, env: dict | None = None, timeout: float = 300):
        self.args = [sys.executable, "-m", "sr_core", *map(str, args)]
        self.timeout = timeout
        full_env = {"OMP_NUM_THREADS": TEST_THREADS, **os.environ, **(env or {}), "PYTHONIOENCODING": "utf-8"}
        self.proc = subprocess.Popen(self.args, cwd=REPO_ROOT, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self._result: subprocess.CompletedProcess | None = None

    def result(self) -> subprocess.CompletedProcess:
        if self._result is None:
            try:
                out, err = self.proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, err = self.proc.communicate()
                raise AssertionError(f"{' '.join(self.args)} timed out\n{out}\n{err}") from None
            self._result = subprocess.CompletedProcess(self.args, self.proc.returncode, out, err)
        return self._result


@pytest.fixture(scope="session")
def start_cli():
    """``start_cli(*args, env=None) -> CLIProcess``: start ``python -m sr_core ...`` without waiting."""
    started: list[CLIProcess] = []

    def start(*args, env: dict | None = None, timeout: float = 300) -> CLIProcess:
        started.append(CLIProcess(*args, env=env, timeout=timeout))
        return started[-1]

    yield start
    for p in started:  # only the processes this fixture started
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()


@pytest.fixture(scope="session")
def run_cli(start_cli):
    """``run_cli(*args, env=None) -> CompletedProcess``: run ``python -m sr_core ...`` in the repository root."""
    def run(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return start_cli(*args, env=env, timeout=timeout).result()
    return run


@pytest.fixture(scope="session")
def cli(run_cli):
    """``cli(*args) -> CompletedProcess``: ``sr_core.cli.main(args)`` in this process (no torch import to wait
    for). An exception escaping ``main`` is reported like the interpreter would: a traceback on stderr, exit 1.
    With ``SR_TEST_SUBPROCESS=1`` it runs ``python -m sr_core`` instead."""
    import contextlib
    import io
    import traceback

    from sr_core.cli import main

    def run(*args) -> subprocess.CompletedProcess:
        if os.environ.get("SR_TEST_SUBPROCESS") == "1":
            return run_cli(*args)
        argv = list(map(str, args))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.chdir(REPO_ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse errors
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
        return subprocess.CompletedProcess(["python", "-m", "sr_core", *argv], code, out.getvalue(), err.getvalue())
    return run


# --- training subprocesses ------------------------------------------------------------------------

def tiny_train_files() -> str:
    """Three T91 images of at least 64 px a side, as ``--train_dirs`` (relative to the data root)."""
    from sr_core import config

    data = config.data_root()
    files = []
    for path in sorted((data / "sr_train" / "T91").glob("*.png")):
        with Image.open(path) as im:
            if min(im.size) >= 64:
                files.append(path.relative_to(data).as_posix())
        if len(files) == 3:
            break
    return ",".join(files)


def subprocess_env() -> dict:
    """The environment of a training or CLI subprocess: the checkout on PYTHONPATH, the data root, one thread."""
    from sr_core import config

    repo = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "SR_DATA_ROOT": str(config.data_root()), "OMP_NUM_THREADS": "1",
            "PYTHONIOENCODING": "utf-8"}


def run_python(cwd, *args: str, timeout: float = 1500) -> str:
    """``python ARGS`` in ``cwd`` with :func:`subprocess_env`; asserts exit 0, returns stdout + stderr."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


# --- the app in headless Chromium (tests/test_app_browser*.py) ----------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def isolated_app(root: Path, **env: str):
    """``python app.py`` on a free port with classical models only (an empty weights folder) and its own temp
    folders under ``root``, plus ``env``; yields its URL and always stops it."""
    from benchmarks.app_server import running_app

    for sub in ("weights", "tmp", "gradio"):
        (root / sub).mkdir(exist_ok=True)
    env = {"SR_WEIGHTS_DIR": str(root / "weights"), "SR_DEVICE": "cpu", "TMPDIR": str(root / "tmp"),
           "GRADIO_TEMP_DIR": str(root / "gradio"), **env}
    with running_app(root / "server.log", env, timeout=120) as (_, url):
        yield url


@contextlib.contextmanager
def chromium_page(url: str, timeout_ms: int):
    """One page of headless Debian Chromium on ``url`` (1400 x 1000); the browser is always closed."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_ms)
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()
