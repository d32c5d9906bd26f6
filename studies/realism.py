"""Realism check: can a small CNN tell real HR images from a generator's x4 upscales?

    python -m studies.realism                                       # generators bicubic, srcnn, srgan
    python -m studies.realism --generators=bicubic,runs/srresnet_cpu/weights --out=reports/realism

For each generator, a fresh small CNN (``RealismCNN``, four stride-2 convolutions, about 0.1 M
parameters) learns "real" (the 128 x 128 HR photo) against "generated" (the generator's x4 upscale of
the photo's Pillow-bicubic 32 x 32 version). The CNN is trained on photos of the training folder
``cats_dogs/train`` and tested on the test folder ``cats_dogs/val`` (which no SR model and no
classifier was trained or selected on), never on photos it trained on:

* training photos: ``train_split`` of ``cats_dogs/train`` (``sr_core``'s per-class 70/30 split,
  seed 0): by default ``val``, the 30 % that only selected models; not ``train``, the 70 % that
  srgan-catsdogs was fine-tuned on (a generator's output on its own training photos could look more
  real than on new ones, and the CNN would learn that);
* test photos: all of ``cats_dogs/val``, full 128 x 128 images;
* in each set, every photo plays one role only (split once with ``seed``): half are shown real, the
  other half generated, so the CNN never compares the two versions of one photo. Training uses random
  ``crop`` x ``crop`` crops with flips.

(Reports before this change, e.g. ``reports/realism`` of 2026-11-30, trained on 70 % of
``cats_dogs/val`` and tested on the other 30 %: also disjoint photos, but from the test folder.)

The same split serves every generator. Reported per generator: test accuracy (95% Wilson interval)
and ROC AUC; 0.5 means the CNN cannot tell them apart, 1.0 means it always can. Missing weights
are reported as skipped. Output: ``realism.json``, ``realism.md``, ``realism.png``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sr_core import config as sr_config
from sr_core.training import seed_everything

from studies.catsdogs.data import load_split, snapshot_sr_weights, sr_model_id, to_float, upscaled
from studies.catsdogs.stats import roc_auc, wilson_interval
from train.config import parse_overrides
from train.records import without_machine_paths


@dataclass
class RealismConfig:
    generators: str = "bicubic,srcnn,srgan"   # comma-separated SR model names or checkpoint paths
    out: str = "reports/realism"
    data_root: str = ""
    train_split: str = "val"                  # part of cats_dogs/train the CNN trains on: val (30 %) or train
    crop: int = 64                            # training crop side (the test uses whole 128 px images)
    epochs: int = 15
    batch_size: int = 32
    lr: float = 1e-3
    width: int = 32                           # channels of the first conv (then 2x, 2x, 4x)
    limit: int = 0                            # >0: first N photos per class (smoke runs)
    seed: int = 0
    threads: int = 1
    cache: bool = True
    snapshot_dir: str = "runs/realism_sr_snapshots"
    tiny: bool = False


class RealismCNN(nn.Module):
    """Four 3x3 stride-2 conv + LeakyReLU layers, global average pooling, one logit (real > 0)."""

    def __init__(self, width: int = 32):
        super().__init__()
        chans = [3, width, 2 * width, 2 * width, 4 * width]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(chans[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) [0, 1] -> (N,) logits."""
        f = self.features(x * 2 - 1).mean(dim=(2, 3))  # (N, 4w)
        return self.fc(f).squeeze(1)


def role_split(n_train: int, n_test: int, seed: int) -> dict[str, torch.Tensor]:
    """Indices of the photos shown real / generated in the training set and in the test set (each photo of a
    set plays one role)."""
    gen = torch.Generator().manual_seed(seed)
    train, test = torch.randperm(n_train, generator=gen), torch.randperm(n_test, generator=gen)
    return {"train_real": train[: n_train // 2], "train_fake": train[n_train // 2:],
            "test_real": test[: n_test // 2], "test_fake": test[n_test // 2:]}


def random_crops(x: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    ys = torch.randint(0, h - crop + 1, (n,), generator=gen)
    xs = torch.randint(0, w - crop + 1, (n,), generator=gen)
    out = torch.stack([x[i, :, y:y + crop, xx:xx + crop] for i, (y, xx) in enumerate(zip(ys.tolist(), xs.tolist()))])
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def check_generator(cfg, hr: torch.Tensor, generated: torch.Tensor, roles: dict,
                    test_hr: torch.Tensor | None = None, test_generated: torch.Tensor | None = None) -> dict:
    """Train a fresh RealismCNN on one generator's images of the training photos (``hr``, ``generated``);
    return its metrics on the test photos (``test_hr``, ``test_generated``; default the same tensors)."""
    test_hr = hr if test_hr is None else test_hr
    test_generated = generated if test_generated is None else test_generated
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x_train = torch.cat([hr[roles["train_real"]], generated[roles["train_fake"]]])
    y_train = torch.cat([torch.ones(len(roles["train_real"])), torch.zeros(len(roles["train_fake"]))])
    x_test = torch.cat([test_hr[roles["test_real"]], test_generated[roles["test_fake"]]])
    y_test = torch.cat([torch.ones(len(roles["test_real"])), torch.zeros(len(roles["test_fake"]))])
    model = RealismCNN(cfg.width)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        perm = torch.randperm(len(y_train), generator=gen)
        total = 0.0
        for idx in perm.split(cfg.batch_size):
            x = random_crops(to_float(x_train[idx]), cfg.crop, gen)
            loss = F.binary_cross_entropy_with_logits(model(x), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append({"epoch": epoch, "train_loss": total / len(y_train)})
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(to_float(c)) for c in x_test.split(100)])
    pred = logits > 0
    correct = int((pred == y_test.bool()).sum())
    lo, hi = wilson_interval(correct, len(y_test))
    return {"accuracy": correct / len(y_test), "accuracy_ci95": [lo, hi], "roc_auc": roc_auc(logits, y_test),
            "real_called_real": float(pred[y_test.bool()].float().mean()),
            "generated_called_real": float(pred[~y_test.bool()].float().mean()),
            "n_train": len(y_train), "n_test": len(y_test), "history": history}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, r in results.items() if "accuracy" in r]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * max(1, len(names)), 3.6))
    accs = [results[n]["accuracy"] for n in names]
    err = [[a - results[n]["accuracy_ci95"][0] for a, n in zip(accs, names)],
           [results[n]["accuracy_ci95"][1] - a for a, n in zip(accs, names)]]
    bars = ax.bar(range(len(names)), accs, yerr=err, capsize=4, color="C1")
    for b, a in zip(bars, accs):
        ax.text(b.get_x() + b.get_width() / 2, a + 0.03, f"{a:.3f}", ha="center", fontsize=8)
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance (indistinguishable)")
    ax.set_xticks(range(len(names)), [Path(n).name if "/" in n else n for n in names], fontsize=8)
    ax.set(ylim=(0, 1.1), ylabel="real-vs-generated test accuracy", title="realism check (lower = more realistic)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(cfg: RealismConfig) -> dict:
    torch.set_num_threads(max(1, cfg.threads))
    seed_everything(cfg.seed)
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data_root = cfg.data_root or str(sr_config.data_root())
    if cfg.train_split not in ("train", "val"):
        raise SystemExit(f"--train_split must be train or val (parts of cats_dogs/train), got {cfg.train_split!r}")
    fit = load_split(cfg.train_split, data_root=data_root, limit=cfg.limit, cache=cfg.cache)
    photos = load_split("test", data_root=data_root, limit=cfg.limit, cache=cfg.cache)
    roles = role_split(len(fit), len(photos), cfg.seed)
    results = {}
    for name in [g.strip() for g in cfg.generators.split(",") if g.strip()]:
        path = snapshot_sr_weights(name, Path(cfg.snapshot_dir) / Path(name).name)
        try:
            generated_fit = upscaled(fit, path, cache=cfg.cache)
            generated = upscaled(photos, path, cache=cfg.cache)
        except (FileNotFoundError, ValueError) as err:
            results[name] = {"skipped": str(err)}
            print(f"{name}: skipped ({err})", flush=True)
            continue
        res = check_generator(cfg, fit.hr, generated_fit, roles, photos.hr, generated)
        res["generator"] = {**sr_model_id(path), "sr_model": name}
        results[name] = res
        print(f"{name}: real-vs-generated accuracy {res['accuracy']:.3f} "
              f"(95% CI {res['accuracy_ci95'][0]:.3f}-{res['accuracy_ci95'][1]:.3f}), AUC {res['roc_auc']:.3f}",
              flush=True)
    report = {"command": "python -m studies.realism " + " ".join(sys.argv[1:]), "config": dataclasses.asdict(cfg),
              "photos": f"CNN trained on {data_root}/cats_dogs/train, split {cfg.train_split} ({len(fit)} photos), "
                        f"tested on {data_root}/cats_dogs/val ({len(photos)} photos); in each, half shown real, "
                        f"half generated",
              "results": results, "seconds": round(time.time() - t0, 1)}
    report = without_machine_paths(report, data_root)
    (out / "realism.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Realism check: real HR vs generated x4 upscales", "",
             f"Photos: {report['photos']}. A fresh small CNN per generator; lower accuracy = harder to tell "
             f"from real (0.5 = indistinguishable).", "",
             "| generator | test accuracy | 95% CI | ROC AUC | real called real | generated called real |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "skipped" in r:
            why = "no weights" if "not found" in r["skipped"] else r["skipped"]
            lines.append(f"| {name} | skipped ({why}) | | | | |")
        else:
            lines.append(f"| {name} | {r['accuracy']:.3f} | {r['accuracy_ci95'][0]:.3f}-{r['accuracy_ci95'][1]:.3f} "
                         f"| {r['roc_auc']:.3f} | {r['real_called_real']:.3f} | {r['generated_called_real']:.3f} |")
    lines += ["", f"Command: `{report['command']}`", ""]
    (out / "realism.md").write_text("\n".join(lines))
    if any("accuracy" in r for r in results.values()):
        plot(results, out / "realism.png")
    return report


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_overrides(RealismConfig(), [a for a in argv if not a.startswith("--tiny")])
    if any(a.startswith("--tiny") for a in argv):
        cfg.tiny = True
        given = {a[2:].partition("=")[0] for a in argv}
        for k, v in dict(limit=4, epochs=1, batch_size=4, width=4, cache=False).items():
            if k not in given:
                setattr(cfg, k, v)
    return run(cfg)


if __name__ == "__main__":
    main()
