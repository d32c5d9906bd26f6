"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Starts ``python app.py`` on a free port, uploads a photo, presses the buttons,
checks what appears, and saves screenshots to ``test-artifacts/`` (gitignored).
Skipped only when /usr/bin/chromium is missing (``bash run.sh test`` installs it).
"""

from __future__ import annotations

import base64
import math
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from conftest import CHROMIUM, chromium_page, isolated_app  # noqa: E402

PHOTO = REPO_ROOT / "demo" / "examples" / "bird_bsd100.png"
TIMEOUT_MS = 120_000  # generous: the machine may be busy
MAX_PIXELS = 200_000  # the server's SR_APP_MAX_PIXELS: the examples (240 x 240 at most) fit, a 600 x 400 image not

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found (install it with: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py`` on a free port (classical models only, empty weights folder); always stopped."""
    with isolated_app(tmp_path_factory.mktemp("app_browser"), SR_APP_MAX_PIXELS=str(MAX_PIXELS)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium_page(server, TIMEOUT_MS) as page:
        yield page


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
    assert not page.locator("#upscale-gallery").is_visible()  # empty panels stay hidden until a run
    assert not page.locator("#upscale-zip").is_visible()
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


# --- issue 26: a bad upload is reported at once; two files dropped on the single input --------------------------

@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("bad_uploads")
    (root / "notes.jpg").write_text("a text file renamed .jpg\n")
    Image.new("RGB", (600, 400), (90, 120, 150)).save(root / "too_big.png")  # 240,000 pixels > MAX_PIXELS
    return root


def fresh(page):
    """The page as a new visitor sees it (no toast, no upload left from an earlier test)."""
    page.reload(wait_until="domcontentloaded")
    page.locator("#upscale-input input[type=file]").wait_for(state="attached")


@pytest.mark.parametrize("where, name, message", [
    ("upscale", "notes.jpg", "Could not read the uploaded file as an image"),
    ("compare", "notes.jpg", "Could not read the uploaded file as an image"),
    ("files", "notes.jpg", "notes.jpg"),
    ("upscale", "too_big.png", f"at most {MAX_PIXELS:,} pixels"),
])
def test_bad_upload_is_reported_without_pressing_anything(page, bad_files, where, name, message):
    fresh(page)
    if where == "compare":
        page.get_by_role("tab", name="Compare").click()
    if where == "files":
        page.get_by_text("Several files at once").click()  # opens the box; no run button is pressed
    page.set_input_files(f"#{where if where == 'compare' else 'upscale'}-{'files' if where == 'files' else 'input'} "
                         "input[type=file]", str(bad_files / name))
    toast = page.locator(".toast-body").filter(has_text=message)
    toast.first.wait_for()
    assert "Error" in toast.first.inner_text()
    if where != "files":  # the refused image is removed: no broken thumbnail beside the message
        page.locator(f"#{where}-input img").wait_for(state="detached")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"app_bad_upload_{where}_{Path(name).stem}.png"))


def test_two_files_dropped_on_the_single_input_go_to_the_several_files_box(page):
    fresh(page)
    names = ["bird_bsd100.png", "texture_bsd100.png"]
    files = [(n, base64.b64encode((REPO_ROOT / "demo" / "examples" / n).read_bytes()).decode()) for n in names]
    transfer = page.evaluate_handle("""(files) => {
        const transfer = new DataTransfer();
        for (const [name, data] of files) {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, { type: "image/png" }));
        }
        return transfer;
    }""", files)
    page.dispatch_event("#upscale-input", "drop", {"dataTransfer": transfer})
    page.locator("#upscale-drop-note").get_by_text("2 files dropped").wait_for()
    for stem in ("bird_bsd100", "texture_bsd100"):
        page.locator("#upscale-files").get_by_text(stem).first.wait_for()
    assert page.locator("#upscale-input img").count() == 0  # the single input kept neither
