"""Writing a benchmark's report: ``<stem>.json`` and ``<stem>.md`` in one folder, the Markdown also printed."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(out: str | Path, stem: str, data: dict, md: str, indent: int = 2) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=indent) + "\n")
    (out / f"{stem}.md").write_text(md)
    print(md)
