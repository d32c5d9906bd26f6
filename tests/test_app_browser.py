"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Starts ``python app.py`` on a free port, uploads a photo, presses the buttons,
checks what appears, and saves screenshots to ``test-artifacts/`` (gitignored).
Skipped only when /usr/bin/chromium is missing (``bash run.sh test`` installs it).
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.app_server import running_app  # noqa: E402
PHOTO = REPO_ROOT / "demo" / "examples" / "bird_bsd100.png"
TIMEOUT_MS = 120_000  # generous: the machine may be busy

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found (install it with: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py`` on a free port (classical models only, empty weights folder); always stopped."""
    root = tmp_path_factory.mktemp("app_browser")
    for sub in ("weights", "tmp", "gradio"):
        (root / sub).mkdir()
    env = {"SR_WEIGHTS_DIR": str(root / "weights"), "SR_DEVICE": "cpu", "TMPDIR": str(root / "tmp"),
           "GRADIO_TEMP_DIR": str(root / "gradio")}
    with running_app(root / "server.log", env, timeout=120) as (_, url):
        yield url


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def test_compare_tab_shows_results_and_a_numeric_psnr(page):
    page.get_by_role("tab", name="Compare").click()
    page.set_input_files("#compare-input input[type=file]", str(PHOTO))
    page.locator("#compare-input img").first.wait_for()  # the upload has arrived
    page.click("#compare-button")
    readout = page.locator("#compare-sr-readout")
    readout.get_by_text("PSNR").wait_for()
    for key in ("lr", "bicubic", "sr", "hr"):
        assert page.locator(f"#compare-{key} img").first.is_visible(), key
    for key in ("bicubic", "sr"):
        text = page.locator(f"#compare-{key}-readout").inner_text()
        match = re.search(r"PSNR\s+([0-9.]+)\s*dB.*SSIM\s+([0-9.]+)", text, re.S)
        assert match, text
        assert math.isfinite(float(match.group(1))) and 0 < float(match.group(2)) <= 1
    # a bird under the standard preset: no cat/dog readouts (they appear with the cat/dog preset only)
    assert "classifier" not in page.locator("#compare-hr-readout").inner_text()
    page.locator("#zoom-hr img").first.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_compare.png"), full_page=True)


def test_upscale_tab_shows_slider_summary_and_download(page):
    page.get_by_role("tab", name="Upscale").click()
    page.set_input_files("#upscale-input input[type=file]", str(PHOTO))
    page.locator("#upscale-input img").first.wait_for()
    page.click("#upscale-button")
    page.locator("#upscale-summary").get_by_text("960×960").wait_for()
    assert page.locator("#upscale-slider img").count() >= 2  # before and after
    assert ".png" in page.locator("#upscale-file").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_upscale.png"), full_page=True)


def test_upscale_scale_choice_and_format(page):
    page.get_by_role("tab", name="Upscale").click()
    page.set_input_files("#upscale-input input[type=file]", str(PHOTO))
    page.locator("#upscale-input img").first.wait_for()
    page.locator("#upscale-summary").get_by_text("960×960").wait_for(state="detached")  # a new upload clears it
    page.locator("#upscale-scale").get_by_text("×2").click()
    page.locator("#upscale-format").get_by_text("JPEG").click()
    page.click("#upscale-button")
    page.locator("#upscale-summary").get_by_text("480×480").wait_for()
    assert ".jpg" in page.locator("#upscale-file").inner_text()


def test_upscale_several_files_gallery_and_zip(page):
    page.get_by_role("tab", name="Upscale").click()
    page.get_by_text("Several files at once").click()  # the accordion holding the multi-file input
    photos = [str(REPO_ROOT / "demo" / "examples" / name) for name in ("bird_bsd100.png", "texture_bsd100.png")]
    page.set_input_files("#upscale-files input[type=file]", photos)
    page.locator("#upscale-files").get_by_text("texture_bsd100").first.wait_for()  # name and extension: two spans
    page.click("#upscale-files-button")
    page.locator("#upscale-summary").get_by_text("file(s) upscaled").wait_for()
    assert "**" not in page.locator("#upscale-summary").inner_text()  # rendered Markdown
    assert "2 file(s) upscaled" in page.locator("#upscale-summary").inner_text()
    assert page.locator("#upscale-gallery img").count() >= 2
    assert ".zip" in page.locator("#upscale-zip").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_upscale_files.png"), full_page=True)
