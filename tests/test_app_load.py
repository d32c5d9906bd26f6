"""The app under load, with small numbers: ``benchmarks/app_load.py`` against a real ``python app.py``.

Three concurrent clients for a few seconds, mixing good images with empty, non-image, truncated,
decompression-bomb and over-limit files: every answer must be a correct output or the app's clear
refusal, no client may hang, and the server's memory must not keep growing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks import app_load


# what each bad input kind's refusal must say, written here independently of benchmarks/app_load.py
REFUSALS = {
    "too_large": "accepts at most 250,000 pixels",
    "empty": "empty",          # the upload step says "it is empty or not in an image format this app reads"
    "text": "image format",
    "truncated": "truncated or corrupt",
    "bomb": "decompression bomb",
}
GOOD = {"rgb_png", "rgb_jpg", "rgba", "grey"}


def test_app_under_load_serves_good_inputs_and_refuses_bad_ones(tmp_path):
    status = app_load.main(["--clients", "3", "--seconds", "12", "--tiny-model", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "app_load.json").read_text())
    assert status == 0, res["errors"]
    assert res["outcomes"]["error"] == 0 and res["errors"] == {} and res["hung_clients"] == 0
    assert res["outcomes"]["ok"] > 0 and res["outcomes"]["refused"] > 0
    # every input kind (PNG and JPEG both) reached both endpoints, at least in the recorded warm-up
    assert set(res["warmup"]) == GOOD | set(REFUSALS)
    for kind, per in res["warmup"].items():
        assert set(per) == {"/upscale", "/compare"}, kind
        for endpoint, w in per.items():
            if kind in GOOD:
                assert w["outcome"] == "ok", (kind, endpoint, w)
            else:  # refused, with the message naming the problem (not just any AppError)
                assert w["outcome"] == "refused", (kind, endpoint, w)
                assert REFUSALS[kind].lower() in w["detail"].lower(), (kind, endpoint, w)
                assert "error" not in w["detail"].lower(), (kind, endpoint, w)
    for kind, message in res["refusal_messages"].items():
        assert REFUSALS[kind].lower() in message.lower(), (kind, message)
    assert sum(res["requests_by_input"].values()) == res["requests"]
    # the memory check always runs on Linux (the server's /proc is there), never skipped by an empty sample
    if Path("/proc/self/status").is_file():
        assert res["memory_samples"] > 4 and res["server_memory"], res["server_memory"]
        assert res["server_memory"]["growth_mib"] < 100, res["server_memory"]
    assert (tmp_path / "app_load.md").read_text().startswith("# App under load")


def test_a_refusal_with_the_wrong_message_is_an_error(tmp_path):
    """``one_request`` counts a bad input as refused only when the app's message says what is wrong."""
    from gradio_client.exceptions import AppError

    class Client:
        def __init__(self, message):
            self.message = message

        def predict(self, *args, api_name):
            raise AppError(self.message)

    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    rng = random.Random(0)
    right = Client("Could not read the uploaded file as an image: empty.png: empty file")
    wrong = Client("Something went wrong")
    for endpoint in ("/upscale", "/compare"):
        assert app_load.one_request(right, path, False, rng, endpoint, "empty")[1] == "refused"
        assert app_load.one_request(wrong, path, False, rng, endpoint, "empty")[1] == "error"
        assert app_load.one_request(right, path, True, rng, endpoint)[1] == "error"  # a good input refused


def test_every_input_kind_is_made(tmp_path):
    inputs = app_load.make_inputs(tmp_path)
    assert set(inputs) == GOOD | set(REFUSALS)
    assert {p.name for p, _ in inputs.values()} >= {"rgb.png", "rgb.jpg"}
    assert {k for k, (_, good) in inputs.items() if good} == GOOD
