"""Does super-resolution help a cat/dog classifier? The test-set report of issue 4.

    python -m studies.catsdogs.report --sr_model=srgan-catsdogs --out=reports/catsdogs
    python -m studies.catsdogs.report --sr_model=runs/srresnet_cpu/weights --out=reports/catsdogs_srresnet

Both classifiers (``classifier-a``: trained on HR; ``classifier-b``: trained on HR + SR images) are
evaluated on the 998 test photos (``cats_dogs/val``, never used for training or selection) under
three inputs of the same photos:

* ``hr``: the 128 x 128 image;
* ``bicubic``: its 32 x 32 version (Pillow bicubic) upscaled back by Pillow-exact bicubic;
* ``sr``: the 32 x 32 version upscaled by ``sr_model``.

Metrics per (classifier, input): cross-entropy loss, accuracy (95% Wilson interval), F1 (dog =
positive; and macro), ROC AUC of p_dog, confusion matrix; paired exact McNemar tests (SR vs bicubic
per classifier, A vs B per input); Y-PSNR/SSIM of the upscaled inputs. A missing classifier is
reported as missing and left out. Output folder: ``report.json``, ``report.md``, ``metrics.png``,
``confusion.png``, ``examples.png``, ``curves_<classifier>.png``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.provenance import weights_record
from sr_core import config as sr_config
from sr_core.classifier import LABELS, load_classifier

from train.config import parse_overrides
from train.records import without_machine_paths

from .data import load_split, probabilities, snapshot_sr_weights, sr_model_id, to_float, upscaled
from .stats import classification_metrics, mcnemar_p

INPUTS = ("hr", "bicubic", "sr")
INPUT_TITLES = {"hr": "HR 128", "bicubic": "bicubic x4 of 32", "sr": "SR x4 of 32"}


@dataclass
class ReportConfig:
    sr_model: str = "srgan-catsdogs"       # SR model name or checkpoint folder/file
    classifier_a: str = "classifier-a"     # name or path
    classifier_b: str = "classifier-b"
    out: str = "reports/catsdogs"
    data_root: str = ""                    # default: SR_DATA_ROOT or ../shared/data
    limit: int = 0                         # >0: first N test photos per class (smoke runs)
    examples: int = 8                      # rows of the example grid
    seed: int = 0
    threads: int = 1
    cache: bool = True
    snapshot_dir: str = "runs/catsdogs_sr_snapshot"   # copy of an SR checkpoint folder (it may be in training)
    tiny: bool = False


def _fmt(x, digits=4):
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _sr_key(info: dict) -> str:
    """The weights' hash identifies a learned SR model; a classical one is its name."""
    return info.get("sr_weights_sha256") or info.get("sr_model", "")


def _load_classifiers(cfg) -> tuple[dict, dict]:
    models, missing = {}, {}
    for label, name in (("A", cfg.classifier_a), ("B", cfg.classifier_b)):
        try:
            models[label] = load_classifier(name)
        except FileNotFoundError as err:
            missing[label] = str(err)
    return models, missing


def plot_metrics(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("accuracy", "accuracy"), ("f1", "F1 (dog)"), ("roc_auc", "ROC AUC"), ("loss", "cross-entropy")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6))
    clfs = list(results)
    width = 0.8 / max(1, len(clfs))
    for ax, (key, title) in zip(axes, keys):
        for j, clf in enumerate(clfs):
            vals = [results[clf][inp][key] for inp in INPUTS]
            xs = [i + (j - (len(clfs) - 1) / 2) * width for i in range(len(INPUTS))]
            bars = ax.bar(xs, vals, width, label=f"classifier {clf}")
            tops = vals
            if key == "accuracy":
                lo = [max(0.0, v - results[clf][inp]["accuracy_ci95"][0]) for v, inp in zip(vals, INPUTS)]
                hi = [max(0.0, results[clf][inp]["accuracy_ci95"][1] - v) for v, inp in zip(vals, INPUTS)]
                ax.errorbar(xs, vals, yerr=[lo, hi], fmt="none", ecolor="k", capsize=3, lw=1)
                tops = [v + h for v, h in zip(vals, hi)]
            for b, v, t in zip(bars, vals, tops):
                ax.text(b.get_x() + b.get_width() / 2, t, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(INPUTS)), [INPUT_TITLES[i] for i in INPUTS], fontsize=8)
        ax.set_title(title)
        if key != "loss":
            low = min(results[clf][inp][key] for clf in clfs for inp in INPUTS)
            ax.set_ylim(max(0.0, min(0.5, low - 0.1)), 1.02)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clfs = list(results)
    fig, axes = plt.subplots(len(clfs), len(INPUTS), figsize=(3.3 * len(INPUTS), 3.1 * len(clfs)), squeeze=False)
    for r, clf in enumerate(clfs):
        for c, inp in enumerate(INPUTS):
            cm = results[clf][inp]["confusion"]
            ax = axes[r][c]
            ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(1, sum(cm[0])))
            for i in range(2):
                for j in range(2):
                    ax.text(j, i, str(cm[i][j]), ha="center", va="center", fontsize=12,
                            color="white" if cm[i][j] > sum(cm[i]) / 2 else "black")
            ax.set_xticks([0, 1], [f"pred {l}" for l in LABELS])
            ax.set_yticks([0, 1], [f"true {l}" for l in LABELS])
            ax.set_title(f"{clf}: {INPUT_TITLES[inp]} (acc {results[clf][inp]['accuracy']:.3f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pick_examples(test, probs: dict, n: int, seed: int) -> tuple[list[int], set[int]]:
    """``n`` test photos: half where some classifier is right on one input and wrong on another (the cases
    the study is about), the rest drawn at random; cats and dogs balanced within each half."""
    gen = torch.Generator().manual_seed(seed)
    right = torch.stack([(p[inp].argmax(1) == test.labels) for p in probs.values() for inp in INPUTS])
    mixed = right.any(0) & ~right.all(0)
    chosen: list[int] = []
    for pool_mask, k in ((mixed, n // 2), (torch.ones_like(mixed), n)):
        for label in (0, 1):
            pool = torch.nonzero(pool_mask & (test.labels == label)).flatten()
            pool = pool[torch.randperm(len(pool), generator=gen)].tolist()
            want = (k - len(chosen)) // (2 - label)
            chosen += [i for i in pool if i not in chosen][:want]
    return sorted(chosen), {i for i in chosen if mixed[i]}


def plot_examples(test, views: dict, probs: dict, idx: list[int], path: Path, mixed: set[int] = frozenset()
                  ) -> None:
    """Rows: test photos; columns: LR (nearest x4) | bicubic | SR | HR, with each classifier's p_dog."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [("LR 32 (nearest x4)", None), ("bicubic", "bicubic"), ("SR", "sr"), ("HR 128", "hr")]
    fig, axes = plt.subplots(len(idx), len(cols), figsize=(2.6 * len(cols), 2.75 * len(idx)), squeeze=False)
    for r, i in enumerate(idx):
        for c, (title, key) in enumerate(cols):
            ax = axes[r][c]
            img = test.lr[i].repeat_interleave(4, 1).repeat_interleave(4, 2) if key is None else views[key][i]
            ax.imshow(img.permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"#{i} true: {LABELS[int(test.labels[i])]}" + ("\n(input matters)" if i in mixed else ""),
                              fontsize=9)
            if key is not None:
                parts = []
                for clf, p in probs.items():
                    pd = float(p[key][i, 1])
                    ok = (pd >= 0.5) == bool(test.labels[i])
                    parts.append(f"{clf}: p_dog {pd:.2f}{'' if ok else ' X'}")
                ax.set_xlabel("\n".join(parts), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report_md(report: dict) -> str:
    lines = ["# Cat vs dog: does super-resolution help the classifier?", "",
             f"Test set: {report['data']['test']} ({report['data']['n_test']} photos; never used for "
             f"training or model selection). SR model: `{report['sr']['sr_model']}`"
             + (f" (sha256 {report['sr'].get('sr_weights_sha256', '')[:12]}, iterations "
                f"{report['sr'].get('iterations', '?')}; weights read from `{report['sr'].get('sr_weights')}`)"
                if report['sr'].get('sr_weights') else "")
             + ".", ""]
    lines += [f"Inputs: **hr** = photo resized directly to 128x128 (Pillow bicubic); **bicubic** = its 32x32 "
              f"version (Pillow bicubic) upscaled x4 by bicubic; **sr** = the 32x32 version upscaled x4 by the SR "
              f"model. Y-PSNR/SSIM vs HR (border 4): bicubic {_fmt(report['psnr']['bicubic']['psnr'], 2)} dB / "
              f"{_fmt(report['psnr']['bicubic']['ssim'])}, SR {_fmt(report['psnr']['sr']['psnr'], 2)} dB / "
              f"{_fmt(report['psnr']['sr']['ssim'])}.", ""]
    for label, msg in report["missing"].items():
        lines += [f"**Classifier {label} is not available** ({msg}); this report covers "
                  f"{', '.join(report['classifiers']) or 'no classifier'} only.", ""]
    lines += ["| classifier | input | accuracy | 95% CI | F1 (dog) | macro F1 | ROC AUC | loss | confusion [[cc, cd], [dc, dd]] |",
              "|---|---|---|---|---|---|---|---|---|"]
    for clf, per in report["results"].items():
        for inp in INPUTS:
            m = per[inp]
            lines.append(f"| {clf} | {inp} | {_fmt(m['accuracy'])} | {_fmt(m['accuracy_ci95'][0], 3)}-"
                         f"{_fmt(m['accuracy_ci95'][1], 3)} | {_fmt(m['f1'])} | {_fmt(m['f1_macro'])} | "
                         f"{_fmt(m['roc_auc'])} | {_fmt(m['loss'])} | {m['confusion']} |")
    lines += ["", "Paired exact McNemar tests (same photos; p < 0.05 = the accuracy difference is unlikely to be "
                  "chance):", ""]
    for t in report["mcnemar"]:
        lines.append(f"- {t['what']}: accuracy {_fmt(t['acc_1'])} vs {_fmt(t['acc_2'])}, "
                     f"discordant {t['only_1_right']}/{t['only_2_right']}, p = {t['p']:.3g}")
    lines += ["", "Classifiers (selection on the 30% validation split of cats_dogs/train):", ""]
    for clf, info in report["classifier_info"].items():
        sel = info.get("selection") or {}
        val = ", ".join(f"{k} acc {_fmt(v['accuracy'])}" for k, v in (info.get("metrics") or {}).items())
        lines.append(f"- {clf}: `{info.get('source')}`"
                     + (f" (sha256 {info['weights_sha256'][:12]})" if info.get("weights_sha256") else "")
                     + f", backbone {info.get('backbone')}, trained on "
                     f"{(info.get('training_data') or {}).get('images', '?')}; selected {sel.get('stage')} "
                     f"stage, epoch {sel.get('epoch')}, lr {sel.get('lr')}; validation: {val}"
                     + (f"; SR model at training: `{info['sr_model'].get('sr_model')}` "
                        f"(sha256 {str(info['sr_model'].get('sr_weights_sha256', ''))[:12]})" if info.get("sr_model") else ""))
    for w in report["warnings"]:
        lines += ["", f"**Warning:** {w}"]
    lines += ["", "Figures: `metrics.png` (bars; accuracy with 95% intervals), `confusion.png`, `examples.png` "
                  "(LR / bicubic / SR / HR with p_dog, X = wrong; half the rows are photos where the input changes "
                  "some classifier's answer, half are random), `curves_<classifier>.png` (training/validation loss).",
              "",
              f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def run(cfg: ReportConfig) -> dict:
    from sr_core.metrics import psnr, ssim

    torch.set_num_threads(max(1, cfg.threads))
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data_root = cfg.data_root or str(sr_config.data_root())
    test = load_split("test", data_root=data_root, limit=cfg.limit, cache=cfg.cache)
    models, missing = _load_classifiers(cfg)
    if not models:
        raise SystemExit("no classifier found: " + "; ".join(missing.values()))

    sr_path = snapshot_sr_weights(cfg.sr_model, cfg.snapshot_dir)
    sr_info = {**sr_model_id(sr_path), "sr_model": cfg.sr_model, "sr_used_copy": sr_path}
    views = {"hr": test.hr, "bicubic": upscaled(test, "bicubic", cache=cfg.cache),
             "sr": upscaled(test, sr_path, cache=cfg.cache)}
    quality = {}
    for key in ("bicubic", "sr"):
        p, s = [], []
        for a, b in zip(views[key].split(100), test.hr.split(100)):
            p.append(psnr(to_float(a), to_float(b), crop_border=4))
            s.append(ssim(to_float(a), to_float(b), crop_border=4))
        quality[key] = {"psnr": torch.cat(p).mean().item(), "ssim": torch.cat(s).mean().item()}

    results, probs, warnings, info = {}, {}, [], {}
    for clf, model in models.items():
        probs[clf] = {inp: probabilities(model, views[inp]) for inp in INPUTS}
        results[clf] = {inp: classification_metrics(probs[clf][inp], test.labels) for inp in INPUTS}
        c = model.config
        source = cfg.classifier_a if clf == "A" else cfg.classifier_b
        info[clf] = {"source": source, **weights_record(source),  # the classifier file used and its sha256
                     **{k: c.get(k) for k in ("name", "backbone", "training_data", "selection", "metrics",
                                              "sr_model", "seed")}}
        trained = c.get("sr_model") or {}
        if trained and _sr_key(trained) != _sr_key(sr_info):
            warnings.append(f"classifier {clf} was trained with SR images of {trained.get('sr_model')} "
                            f"(sha256 {str(trained.get('sr_weights_sha256', 'n/a'))[:12]}), but this report's SR "
                            f"inputs come from {cfg.sr_model} "
                            f"(sha256 {str(sr_info.get('sr_weights_sha256', 'n/a'))[:12]}).")
        if c.get("history"):
            from .classifier import plot_curves

            plot_curves(c["history"], out / f"curves_classifier-{clf.lower()}.png",
                        title=f"classifier-{clf.lower()}: training (stage 1 head, stage 2 fine-tune)")

    tests = []

    def paired(what, p1, p2):
        r1 = p1.argmax(1) == test.labels
        r2 = p2.argmax(1) == test.labels
        tests.append({"what": what, "acc_1": r1.double().mean().item(), "acc_2": r2.double().mean().item(),
                      "only_1_right": int((r1 & ~r2).sum()), "only_2_right": int((~r1 & r2).sum()),
                      "p": mcnemar_p(r1, r2)})

    for clf in probs:
        paired(f"classifier {clf}: sr vs bicubic", probs[clf]["sr"], probs[clf]["bicubic"])
        paired(f"classifier {clf}: hr vs sr", probs[clf]["hr"], probs[clf]["sr"])
    if len(probs) == 2:
        for inp in INPUTS:
            paired(f"{inp}: classifier B vs A", probs["B"][inp], probs["A"][inp])

    plot_metrics(results, out / "metrics.png")
    plot_confusion(results, out / "confusion.png")
    idx, mixed = pick_examples(test, probs, min(cfg.examples, len(test)), cfg.seed)
    plot_examples(test, views, probs, idx, out / "examples.png", mixed)

    report = {"command": "python -m studies.catsdogs.report " + " ".join(sys.argv[1:]),
              "config": dataclasses.asdict(cfg),
              "data": {"test": f"{data_root}/cats_dogs/val", "n_test": len(test),
                       "n_cat": int((test.labels == 0).sum()), "n_dog": int((test.labels == 1).sum()),
                       "hr": "direct Pillow bicubic resize to 128x128", "lr": "Pillow bicubic 32x32 of HR"},
              "sr": sr_info, "psnr": quality, "classifiers": list(models), "missing": missing,
              "classifier_info": info, "results": results, "mcnemar": tests, "warnings": warnings,
              "seconds": round(time.time() - t0, 1)}
    report = without_machine_paths(report, data_root)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(report_md(report))
    return report


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_overrides(ReportConfig(), [a for a in argv if not a.startswith("--tiny")])
    if any(a.startswith("--tiny") for a in argv):
        cfg.tiny = True
        given = {a[2:].partition("=")[0] for a in argv}
        for k, v in dict(limit=3, examples=4, cache=False).items():
            if k not in given:
                setattr(cfg, k, v)
    try:
        report = run(cfg)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    for clf, per in report["results"].items():
        print(f"classifier {clf}: " + ", ".join(f"{inp} acc {per[inp]['accuracy']:.4f}" for inp in INPUTS))
    for label, msg in report["missing"].items():
        print(f"classifier {label}: missing ({msg})")
    print(f"wrote {cfg.out}/report.md")
    return report


if __name__ == "__main__":
    main()
