"""The Video tab in a real browser: headless Chromium (/usr/bin/chromium) driven by Playwright.

Starts ``python app.py`` on a free port (classical models only), uploads a text file renamed .mp4 and sees the
error without pressing anything, then uploads a clip of 7 frames of 64x48 with sound, presses the button and
sees the upscaled player and its summary. Screenshots go to ``test-artifacts/`` (gitignored). Skipped when
/usr/bin/chromium or Playwright is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from conftest import CHROMIUM, chromium_page, isolated_app  # noqa: E402


TIMEOUT_MS = 120_000  # generous: the machine may be busy
MAX_SECONDS = 5  # the server's SR_APP_MAX_VIDEO_SECONDS

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found (install it with: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    pytest.importorskip("av")
    from test_video import make_clip

    root = tmp_path_factory.mktemp("video_uploads")
    (root / "notes.mp4").write_text("a text file renamed .mp4\n")
    make_clip(root / "clip.mp4", size=(64, 48))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py`` on a free port (classical models only, empty weights folder); always stopped."""
    with isolated_app(tmp_path_factory.mktemp("app_browser_video"), SR_APP_MAX_VIDEO_SECONDS=str(MAX_SECONDS)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium_page(server, TIMEOUT_MS) as page:
        yield page


def video_tab(page):
    """The page as a new visitor sees it, on the Video tab."""
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").wait_for(state="attached")


def test_the_limit_is_on_the_page_before_any_upload(page):
    video_tab(page)
    text = page.locator("#video-limit").inner_text()
    assert f"Clips up to {MAX_SECONDS} s" in text and "SR_APP_MAX_VIDEO_SECONDS" in text


def test_a_bad_video_is_reported_without_pressing_anything(page, clips):
    video_tab(page)
    page.set_input_files("#video-input input[type=file]", str(clips / "notes.mp4"))
    toast = page.locator(".toast-body").filter(has_text="notes.mp4: not a video")
    toast.first.wait_for()
    assert "Error" in toast.first.inner_text()
    page.locator("#video-input video").wait_for(state="detached")  # the refused file is removed from the input
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_video_bad_upload.png"))


def test_a_clip_is_upscaled_and_played(page, clips):
    video_tab(page)
    page.set_input_files("#video-input input[type=file]", str(clips / "clip.mp4"))
    page.locator("#video-clip").get_by_text("64×48 px, 7 frames").wait_for()  # the upload check's line
    page.click("#video-button")
    summary = page.locator("#video-summary")
    summary.get_by_text("256×192").wait_for()
    assert "aac copied" in summary.inner_text() and "**" not in summary.inner_text()  # rendered Markdown
    player = page.locator("#video-output video").first
    player.wait_for()
    page.wait_for_function("(v) => v.readyState >= 1 && v.videoWidth > 0", arg=player.element_handle())
    assert player.evaluate("(v) => [v.videoWidth, v.videoHeight]") == [256, 192]  # the browser decodes it
    assert ".mp4" in page.locator("#video-file").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_video.png"), full_page=True)
