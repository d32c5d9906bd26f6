"""Benchmark every available 4x model, bicubic and the peer projects on Set5, Set14 and BSD100; the one
``collect_models`` of the benchmarks (``benchmarks.real``, ``benchmarks.real_photos`` use it too).

    python -m benchmarks.quality                                  # all sets, all models with weights, all peers
    python -m benchmarks.quality --sets Set5 --models bicubic,srresnet
    python -m benchmarks.quality --extra srresnet_cpu=runs/srresnet_cpu/weights --out reports/benchmark_cpu
    python -m benchmarks.quality --models srresnet,srgan --update     # re-measure some rows, keep the others
    python -m benchmarks.quality --models bicubic --no-peers --extra swift-pixel=git:ea8c8cd:weights/swift-srgan
                                                                      # weights that shipped at an earlier commit

Protocol (the one of the SR literature, as ``sr_core.metrics`` implements it):
the HR image is cropped to a multiple of 4 (right/bottom), the LR image is
Pillow's bicubic 4x downscale of it (``sr_core.data.load_eval_set``), the whole
LR image goes through the network in one piece (``sr_core.metrics.evaluate``),
and PSNR/SSIM are computed on the BT.601 luma of 8-bit-rounded images with a
4-pixel border removed; the tables report the mean over images.

Models: every name of ``sr_core.available_models()`` whose weights exist
(``sr_core.has_weights``) apart from the classical ``lanczos``/``nearest``
(ask for them with ``--models``), ``bicubic``, each ``--extra name=path``
checkpoint folder, and the peers in ``../shared/peers`` (measurement only,
see that folder's README). Writes ``benchmark.md`` and ``benchmark.json``
(means per set and every image's values) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from sr_core import available_models, config, count_parameters, has_weights, load_model
from sr_core.data import load_eval_set
from sr_core.metrics import evaluate

from benchmarks.hardware import machine_info

SETS = ("Set5", "Set14", "BSD100")
SCALE = 4

# Published 4x figures (mean Y-PSNR dB / SSIM on Set5), from the papers, whose LR images were made with MATLAB's
# bicubic imresize: Ledig et al. 2017 (bicubic, SRCNN, SRResNet, SRGAN) and the peers' papers (FSRCNN, VDSR).
PUBLISHED_SET5 = {
    "bicubic": (28.42, None, "Ledig et al. 2017"),
    "srcnn": (30.48, None, "Dong et al. 2016, via Ledig et al. 2017"),
    "srresnet": (32.05, 0.9019, "Ledig et al. 2017"),
    "srgan": (29.40, 0.8472, "Ledig et al. 2017"),
    "peer:fsrcnn": (30.72, None, "Dong et al. 2016 (FSRCNN)"),
    "peer:vdsr": (31.35, None, "Kim et al. 2016 (VDSR)"),
    "peer:imdn": (32.21, 0.8948, "Hui et al. 2019 (IMDN)"),
}


def collect_models(models: list[str] | None, extras: list[str] = (), peers: list[str] = ()
                   ) -> list[tuple[str, callable]]:
    """(label, loader) pairs; nothing is loaded until a loader is called.

    Args:
        models: names to measure, in order (None: ``bicubic`` and every ``available_models()`` name with weights
            apart from ``lanczos``/``nearest``). A name may be ``peer:NAME`` (another project's weights,
            ``benchmarks.peers``) or ``NAME@D`` (``NAME`` at detail ``D``, ``sr_core.load_model``).
        extras: ``label=path`` entries, ``path`` a checkpoint folder or ``git:COMMIT:weights/NAME``.
        peers: peer names added after the others when ``models`` is None.
    """
    from benchmarks.peers import available_peers, load_peer

    names = models if models is not None else ["bicubic"] + [
        n for n in available_models() if n not in ("bicubic", "lanczos", "nearest") and has_weights(n)]
    out = []
    for name in names:
        if "@" in name:  # real@0.5: real blended with real-psnr at detail 0.5 (sr_core.load_model)
            out.append((name, lambda n=name: load_model(n)))
        elif name.startswith("peer:"):
            if name[5:] in available_peers():
                out.append((name, lambda n=name[5:]: load_peer(n)))
            else:
                print(f"skipping {name}: weights not in ../shared/peers", file=sys.stderr)
        elif has_weights(name):
            out.append((name, lambda n=name: load_model(n)))
        else:
            print(f"skipping {name}: no weights (sr_core.has_weights)", file=sys.stderr)
    for item in extras:
        label, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--extra takes name=path, got {item!r}")
        out.append((label, lambda path=path: load_model(git_folder(path))))
    for name in peers if models is None else ():
        if name in available_peers():
            out.append((f"peer:{name}", lambda n=name: load_peer(n)))
        else:
            print(f"skipping peer:{name}: weights not in ../shared/peers", file=sys.stderr)
    return out


def git_folder(path: str) -> str:
    """``git:COMMIT:weights/NAME`` -> a temporary folder holding that commit's ``model.safetensors`` and
    ``config.json`` (weights that shipped once and were replaced); any other path is returned as is."""
    if not path.startswith("git:"):
        return path
    import tempfile

    _, commit, folder = path.split(":", 2)
    repo = Path(__file__).resolve().parents[1]
    out = Path(tempfile.mkdtemp(prefix=f"weights-{commit}-"))
    for name in ("model.safetensors", "config.json"):
        blob = subprocess.run(["git", "show", f"{commit}:{folder.rstrip('/')}/{name}"], cwd=repo, capture_output=True,
                              check=False)
        if blob.returncode:
            raise SystemExit(f"--extra {path}: git show failed: {blob.stderr.decode().strip()}")
        (out / name).write_bytes(blob.stdout)
    return str(out)


def weights_source(label: str, extras: list[str]):
    """The name or path ``collect_models`` loads for ``label`` (for ``benchmarks.provenance.weights_record``)."""
    if label.startswith("peer:"):
        from benchmarks.peers import PEER_FILES, peers_dir

        return peers_dir() / PEER_FILES[label[5:]]
    for item in extras:
        name, sep, path = item.partition("=")
        if sep and name == label:
            return path
    return label


def benchmark_table_md(report: dict) -> str:
    """``benchmark.md``: the table of every model on every set, the published figures, the machine."""
    sets, m = report["sets"], report["machine"]
    # bicubic, then this project's models, then the peers
    order = sorted(report["results"], key=lambda k: (k != "bicubic", k.startswith("peer:")))
    results = {k: report["results"][k] for k in order}
    runs = [*report.get("earlier_runs", []), {"argv": report["argv"], "machine": m}]
    produced = "; ".join(f"`python -m benchmarks.quality {' '.join(r['argv'])}` ({r['machine']['date'][:10]})"
                         for r in runs)
    lines = ["# 4x benchmark", "",
             f"Y-PSNR (dB) / SSIM, mean over images; BT.601 luma of 8-bit images, {SCALE}-pixel border removed; "
             "LR = Pillow bicubic 4x downscale of the HR image cropped to a multiple of 4; "
             f"{report['protocol'].get('inference', 'whole image, no tiling, float32')}. "
             f"Produced by {produced}.", "",
             "| model | parameters | " + " | ".join(sets) + " | published Set5 (paper, MATLAB bicubic) | s/image |",
             "|---|---:|" + "---|" * len(sets) + "---|---:|"]
    for label, r in results.items():
        cells = []
        for s in sets:
            v = r["sets"].get(s)
            cells.append(f"{v['psnr']:.2f} / {v['ssim']:.4f}" if v else "")
        pub = PUBLISHED_SET5.get(label)
        pub_cell = "" if pub is None else f"{pub[0]:.2f}" + (f" / {pub[1]:.4f}" if pub[1] else "")
        secs = [r["sets"][s]["seconds_per_image"] for s in sets if s in r["sets"]]
        lines.append(f"| {label} | {r['parameters']:,} | " + " | ".join(cells) + f" | {pub_cell} | "
                     f"{sum(secs) / len(secs):.3f} |")
    lines += ["",
              "Published figures: bicubic 28.42, SRCNN 30.48, SRResNet 32.05 / 0.9019 and SRGAN 29.40 / 0.8472 from "
              "Ledig et al. 2017 (CVPR), FSRCNN 30.72 and VDSR 31.35 from their papers. They come from the papers, "
              "whose LR images were made with MATLAB's `imresize` (bicubic); this table's LR images are made with "
              "Pillow's bicubic, which is close but not identical, so expect differences of a few tenths of a dB "
              "(compare our bicubic row with the published bicubic figure).", "",
              "`peer:*` rows are other projects' released weights (`../shared/peers`, see its README), run here "
              "only to measure them with the same images and metric; they are not this project's models. "
              "s/image is the mean forward time per image on this machine (the machine was shared with other "
              "jobs, so treat it as rough).", ""]
    hashes = [f"{label} `{r['weights_sha256'][:12]}` ({r['weights']})" for label, r in results.items()
              if r.get("weights_sha256")]
    if hashes:
        lines += ["Weights measured (sha256, first 12 hex digits): " + "; ".join(hashes) + ".", ""]
    lines += ["## Machine", "",
              f"- CPU: {m['cpu']}, {m['usable_cores']} usable cores ({m['logical_cores']} logical), "
              f"torch threads {m['torch_threads']}, CUDA: {m['cuda']}",
              f"- torch {m['torch']}, Python {m['python']}, {m['platform']}",
              f"- load average at start: {m['load_average_at_start']}",
              f"- git commit {m['git_commit']}, {m['date']}"]
    for r in report.get("earlier_runs", []):
        lines.append(f"- rows kept from an earlier run (`{' '.join(r['argv'])}`): git commit "
                     f"{r['machine']['git_commit']}, {r['machine']['date']}, load average "
                     f"{r['machine']['load_average_at_start']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated folders under sr_benchmark/")
    parser.add_argument("--out", default="reports/benchmark", help="output folder (benchmark.md, benchmark.json)")
    parser.add_argument("--models", default=None,
                        help="comma-separated model names and peer:NAME entries to evaluate instead of all")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="also evaluate the checkpoint folder PATH under the label NAME (repeatable)")
    parser.add_argument("--no-peers", action="store_true", help="skip ../shared/peers")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                        help="run the convolutions in this precision (torch.autocast, as `upscale --dtype`); "
                             "the README's rows are float32")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of an existing --out/benchmark.json, adding or replacing the ones "
                             "measured now (same --sets required)")
    args = parser.parse_args(argv)
    if args.update and args.dtype != "float32":
        parser.error("--update keeps float32 rows; measure another --dtype into its own --out")
    if args.threads:
        torch.set_num_threads(args.threads)

    from benchmarks.peers import available_peers
    from benchmarks.provenance import weights_record

    sets = [s for s in args.sets.split(",") if s]
    models = [m for m in args.models.split(",") if m and not (args.no_peers and m.startswith("peer:"))
              ] if args.models else None
    entries = collect_models(models, args.extra, [] if args.no_peers else available_peers())
    if not entries:
        raise SystemExit("nothing to evaluate")
    pairs = {s: load_eval_set(config.benchmark_dir(s), SCALE, "bicubic") for s in sets}
    report = {"argv": list(sys.argv[1:] if argv is None else argv), "sets": sets, "scale": SCALE,
              "protocol": {"lr": "Pillow bicubic (Image.resize BICUBIC) of the HR mod-cropped to 4",
                           "metric": "Y (BT.601) PSNR/SSIM on 8-bit-rounded images, 4-px border cropped",
                           "inference": f"whole image, no tiling, {args.dtype}"
                           + ("" if args.dtype == "float32" else " autocast") + (", CPU" if not torch.cuda.is_available()
                                                                               else "")},
              "machine": machine_info(),
              "published_set5": {k: {"psnr": v[0], "ssim": v[1], "source": v[2]} for k, v in PUBLISHED_SET5.items()},
              "results": {}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.update and (out / "benchmark.json").is_file():
        old = json.loads((out / "benchmark.json").read_text())
        if old["sets"] != sets:
            raise SystemExit(f"--update: {out / 'benchmark.json'} has sets {old['sets']}, not {sets}")
        report["results"] = {k: v for k, v in old["results"].items() if k not in {label for label, _ in entries}}
        report["earlier_runs"] = old.get("earlier_runs", []) + [{"argv": old["argv"], "machine": old["machine"]}]
    for label, loader in entries:
        model = loader()
        model.eval()
        report["results"][label] = {"parameters": count_parameters(model), "measured": datetime.now(
            timezone.utc).isoformat(timespec="seconds"), "sets": {},
            # the file measured and its sha256 (benchmarks.provenance; tests/test_reports.py checks them)
            **weights_record(weights_source(label, args.extra))}
        for s in sets:
            t = time.time()
            r = evaluate(model, pairs[s], SCALE, dtype=None if args.dtype == "float32" else args.dtype, rounded=True)
            report["results"][label]["sets"][s] = r
            print(f"{label:24s} {s:7s} {r['psnr']:.3f} dB  SSIM {r['ssim']:.4f}  ({time.time() - t:.0f} s)", flush=True)
        # written after every model, so an interrupted run keeps what it measured
        (out / "benchmark.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / "benchmark.md").write_text(benchmark_table_md(report))
    return report


if __name__ == "__main__":
    main()
