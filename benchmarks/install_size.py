"""Installed size of torch and of what it brings, in a virtual environment (measured from its files on disk).

    python -m benchmarks.install_size                      # this interpreter's environment
    python -m benchmarks.install_size --venv /tmp/cpu-venv --out reports/install_size --label cpu

Sizes are the bytes of the files each distribution's RECORD lists (``importlib.metadata``), grouped into
torch itself, its CUDA libraries (``nvidia-*``, ``cuda-*``, ``triton``) and everything else, plus the whole
``site-packages`` folder. Writes/updates ``<out>/install_size.json`` and ``.md`` (one row per label).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import importlib.metadata as md, json, os, site, sys
groups = {"torch": 0, "cuda libraries (nvidia-*, cuda-*, triton)": 0, "everything else": 0}
dists = {}
for d in md.distributions():
    name = (d.metadata["Name"] or "").lower()
    size = 0
    for f in d.files or []:
        p = d.locate_file(f)
        try:
            size += os.path.getsize(p)
        except OSError:
            pass
    dists[name] = [d.version, size]
    if name == "torch":
        groups["torch"] += size
    elif name.startswith(("nvidia-", "cuda-")) or name == "triton":
        groups["cuda libraries (nvidia-*, cuda-*, triton)"] += size
    else:
        groups["everything else"] += size
sp = [p for p in site.getsitepackages() if p.endswith("site-packages")][0]
total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(sp) for f in fs
            if not os.path.islink(os.path.join(r, f)))
print(json.dumps({"python": sys.version.split()[0], "torch": dists.get("torch", ["absent"])[0],
                  "groups": groups, "site_packages_bytes": total}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=None, help="a virtual environment (default: this one)")
    parser.add_argument("--label", default="this venv")
    parser.add_argument("--out", type=Path, default=Path("reports/install_size"))
    args = parser.parse_args(argv)
    python = str(args.venv / "bin" / "python") if args.venv else sys.executable
    res = json.loads(subprocess.run([python, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "install_size.json"
    rows = json.loads(path.read_text()) if path.is_file() else {}
    rows[args.label] = {**res, "command": "python -m benchmarks.install_size " + shlex.join(sys.argv[1:] if argv is None
                                                                                        else argv)}
    path.write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Installed size", "", "| environment | torch | torch files | CUDA libraries | everything else | "
             "site-packages | command |", "|---|---|---:|---:|---:|---:|---|"]
    for label, r in rows.items():
        g = r["groups"]
        lines.append(f"| {label} | {r['torch']} | {g['torch'] / 1e9:.2f} GB | "
                     f"{g['cuda libraries (nvidia-*, cuda-*, triton)'] / 1e9:.2f} GB | "
                     f"{g['everything else'] / 1e9:.2f} GB | {r['site_packages_bytes'] / 1e9:.2f} GB | "
                     f"`{r['command']}` |")
    (args.out / "install_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
