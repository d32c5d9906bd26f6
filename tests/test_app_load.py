"""The app under load, with small numbers: ``benchmarks/app_load.py`` against a real ``python app.py``.

Three concurrent clients for a few seconds, mixing good images with empty, non-image, truncated,
decompression-bomb and over-limit files: every answer must be a correct output or the app's clear
refusal, no client may hang, and the server's memory must not keep growing.
"""

from __future__ import annotations

import json

from benchmarks import app_load


def test_app_under_load_serves_good_inputs_and_refuses_bad_ones(tmp_path):
    status = app_load.main(["--clients", "3", "--seconds", "12", "--tiny-model", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "app_load.json").read_text())
    assert status == 0, res["errors"]
    assert res["outcomes"]["error"] == 0 and res["hung_clients"] == 0
    assert res["outcomes"]["ok"] > 0 and res["outcomes"]["refused"] > 0
    # every bad input kind that was sent got a message naming the problem, not a generic failure
    for kind, message in res["refusal_messages"].items():
        assert "error" not in message.lower()[:20] and len(message) > 20, (kind, message)
    mem = res["server_memory"]
    if mem:  # Linux: /proc is there
        assert mem["growth_mib"] < 100, mem
    assert (tmp_path / "app_load.md").read_text().startswith("# App under load")
