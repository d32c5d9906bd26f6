"""Cat-vs-dog classifiers for the super-resolution study (issue 4).

    python -m studies.catsdogs.classifier --variant=a                  # HR training images -> weights/classifier-a
    python -m studies.catsdogs.classifier --variant=b --sr_model=NAME  # HR + SR(LR) images -> weights/classifier-b
    python -m studies.catsdogs.classifier --tiny --data_root=... --out_dir=/tmp/x   # seconds-long smoke run

Data (``studies/catsdogs/data.py``): ``cats_dogs/train`` split per class 70/30 (seed ``seed``) into fitting and
validation images; the 998 ``cats_dogs/val`` photos are the test set and are never read here.
HR = photo resized directly to 128 x 128; LR = Pillow-bicubic 32 x 32; SR = LR through ``sr_model``.

Recipe (transfer learning, a few minutes on one CPU core):

1. *head*: backbone frozen; its pooled features are computed once for every training image
   (``feature_views`` copies: the clean image plus augmented ones) and for the validation images;
   a dropout + linear head is trained on them with AdamW for each learning rate in ``head_lrs``;
   the (learning rate, epoch) with the lowest validation loss wins.
2. *finetune*: from that head, the last backbone stages (``Classifier.tail_modules``: EfficientNet
   blocks 5-6 + the 1x1 head conv) and the head are trained on augmented images (flip, rotation up to
   15 degrees, colour jitter) with AdamW + cosine decay, BatchNorm statistics frozen; validated each epoch.

The weights with the lowest validation loss over both stages are kept (stage 1's included: fine-tuning
has to earn its place). For variant b the training *and* validation sets hold both the HR image and the
SR image of every photo. Run folder ``runs/<name>/``: ``config.json``, ``metrics.jsonl``, ``curves.png``,
``weights/``; the weights are also exported to ``weights/classifier-<variant>/`` (``--export``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from sr_core import config as sr_config
from sr_core.classifier import Classifier, augmentation, save_classifier
from sr_core.training import seed_everything

from train.config import parse_overrides

from .data import load_split, probabilities, snapshot_sr_weights, sr_model_id, to_float, upscaled
from .stats import classification_metrics


@dataclass
class ClassifierConfig:
    name: str = ""                         # run folder runs/<name>; default classifier-<variant>
    variant: str = "a"                     # a: HR training images; b: HR + SR images of the same photos
    backbone: str = "efficientnet_lite0"   # or vgg16 (torchvision weights: needs the internet once)
    pretrained: bool = True
    sr_model: str = "srgan-catsdogs"       # variant b: SR model name or checkpoint folder/file
    data_root: str = ""                    # default: SR_DATA_ROOT or ../shared/data
    train_fraction: float = 0.7
    limit: int = 0                         # >0: first N files per class and split (smoke runs)
    input_size: int = 128
    dropout: float = 0.2
    weight_decay: float = 1e-4
    # stage 1: frozen backbone, head on precomputed features
    feature_views: int = 2                 # clean + (views - 1) augmented copies per training image
    head_lrs: str = "3e-4,1e-3,3e-3"       # comma-separated; the best by validation loss is kept
    head_epochs: int = 40
    head_batch_size: int = 64
    # stage 2: fine-tune the last backbone stages + head
    finetune_epochs: int = 4
    finetune_lr: float = 1e-4
    batch_size: int = 32
    # bookkeeping
    seed: int = 0
    threads: int = 1                       # torch threads (the machine is shared)
    out_dir: str = ""                      # default runs/<name>
    export: str = "auto"                   # auto: weights/classifier-<variant> (none with --tiny); "": none
    cache: bool = True                     # cache decoded images in runs/catsdogs_cache
    progress: bool = True
    tiny: bool = False                     # seconds-long run for tests: tiny data, random backbone

    def run_name(self) -> str:
        return self.name or f"classifier-{self.variant}"


TINY = dict(limit=3, pretrained=False, feature_views=2, head_lrs="1e-3", head_epochs=2, head_batch_size=4,
            finetune_epochs=1, batch_size=4, cache=False, progress=False)


def parse_args(argv: list[str]) -> ClassifierConfig:
    """``--key=value`` overrides (``train.config.parse_overrides``); ``--tiny`` applies ``TINY`` under them."""
    tiny = [a for a in argv if a == "--tiny" or a.startswith("--tiny=")]
    cfg = parse_overrides(ClassifierConfig(), [a for a in argv if a not in tiny])
    cfg.tiny = bool(tiny) and parse_overrides(ClassifierConfig(), tiny[-1:]).tiny
    if cfg.tiny:
        given = {a[2:].partition("=")[0].replace("-", "_") for a in argv}
        for key, value in TINY.items():
            if key not in given:
                setattr(cfg, key, value)
    if cfg.variant not in ("a", "b"):
        raise SystemExit(f"--variant must be a or b, got {cfg.variant!r}")
    return cfg


def _progress(cfg, **kwargs):
    from tqdm import tqdm

    return tqdm(disable=not cfg.progress, dynamic_ncols=True, leave=False, **kwargs)


def augment_batch(x: torch.Tensor, transform) -> torch.Tensor:
    """Independent augmentation of each image of a float (N, 3, H, W) batch."""
    return torch.stack([transform(img) for img in x]).clamp_(0, 1)


@torch.no_grad()
def compute_features(model: Classifier, images: torch.Tensor, transform=None, batch_size: int = 64,
                     bar=None) -> torch.Tensor:
    """Pooled backbone features of uint8 images (optionally augmented), backbone in eval mode."""
    model.eval()
    out = []
    for chunk in images.split(batch_size):
        x = to_float(chunk)
        if transform is not None:
            x = augment_batch(x, transform)
        out.append(model.features(x))
        if bar is not None:
            bar.update(len(chunk))
    return torch.cat(out)


def head_stage(cfg, model, feats, labels, val_feats, val_labels, log) -> dict:
    """Train the head on fixed features for each learning rate; return the best (lowest val loss) state."""
    best = {"val_loss": math.inf}
    for lr in [float(v) for v in cfg.head_lrs.split(",")]:
        torch.manual_seed(cfg.seed)
        head = model.head
        for m in head.modules():
            if isinstance(m, torch.nn.Linear):
                m.reset_parameters()
        opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        for epoch in range(1, cfg.head_epochs + 1):
            head.train()
            perm = torch.randperm(len(labels), generator=gen)
            total, count = 0.0, 0
            for idx in perm.split(cfg.head_batch_size):
                loss = F.cross_entropy(head(feats[idx]), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, count = total + loss.item() * len(idx), count + len(idx)
            head.eval()
            with torch.no_grad():
                probs = F.softmax(head(val_feats), 1)
            val = classification_metrics(probs, val_labels)
            row = {"kind": "head", "lr": lr, "epoch": epoch, "train_loss": total / count,
                   "val_loss": val["loss"], "val_acc": val["accuracy"]}
            log(row)
            if val["loss"] < best["val_loss"]:
                best = {"val_loss": val["loss"], "val_acc": val["accuracy"], "stage": "head", "lr": lr,
                        "epoch": epoch, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    return best


def finetune_stage(cfg, model, train_x, train_y, val_x, val_y, best, log, say) -> dict:
    """Fine-tune the backbone's last stages and the head on augmented images; keep the best val-loss weights."""
    model.load_state_dict(best["state"])
    params = model.set_trainable("tail")
    opt = torch.optim.AdamW(params, lr=cfg.finetune_lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_y) / cfg.batch_size)
    total_steps = max(1, cfg.finetune_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps)
                                                                              / total_steps)))
    transform = augmentation()
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    for epoch in range(1, cfg.finetune_epochs + 1):
        t0 = time.time()
        model.train()
        model.freeze_batchnorm()
        perm = torch.randperm(len(train_y), generator=gen)
        total, correct, count = 0.0, 0, 0
        bar = _progress(cfg, total=len(perm), desc=f"finetune {epoch}/{cfg.finetune_epochs}", unit="img")
        for idx in perm.split(cfg.batch_size):
            x = augment_batch(to_float(train_x[idx]), transform)
            logits = model(x)
            loss = F.cross_entropy(logits, train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == train_y[idx]).sum())
            count += len(idx)
            bar.update(len(idx))
            bar.set_postfix(loss=f"{total / count:.4f}")
        bar.close()
        val = classification_metrics(probabilities(model, val_x), val_y)
        row = {"kind": "finetune", "epoch": epoch, "lr": sched.get_last_lr()[0], "train_loss": total / count,
               "train_acc": correct / count, "val_loss": val["loss"], "val_acc": val["accuracy"],
               "time": time.time() - t0}
        log(row)
        say(f"finetune epoch {epoch}: train loss {row['train_loss']:.4f}, val loss {val['loss']:.4f}, "
            f"val acc {val['accuracy']:.4f} ({row['time']:.0f} s)")
        if val["loss"] < best["val_loss"]:
            best = {"val_loss": val["loss"], "val_acc": val["accuracy"], "stage": "finetune",
                    "lr": cfg.finetune_lr, "epoch": epoch,
                    "state": {k: v.clone() for k, v in model.state_dict().items()}}
    model.set_trainable("all")
    return best


def plot_curves(rows: list[dict], path: Path, title: str = "") -> None:
    """Head stage (loss per learning rate), fine-tuning stage (loss), validation accuracy of both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = [r for r in rows if r.get("kind") == "head"]
    fine = [r for r in rows if r.get("kind") == "finetune"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, lr in enumerate(sorted({r["lr"] for r in head})):
        pts = [r for r in head if r["lr"] == lr]
        c = f"C{i}"
        axes[0].plot([r["epoch"] for r in pts], [r["train_loss"] for r in pts], c, ls="--", label=f"train lr={lr:g}")
        axes[0].plot([r["epoch"] for r in pts], [r["val_loss"] for r in pts], c, label=f"val lr={lr:g}")
        axes[2].plot([r["epoch"] for r in pts], [r["val_acc"] for r in pts], c, label=f"head lr={lr:g}")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="stage 1: head on frozen features")
    axes[0].legend(fontsize=7)
    if fine:
        ep = [r["epoch"] for r in fine]
        axes[1].plot(ep, [r["train_loss"] for r in fine], "C0--", marker="o", label="train (augmented)")
        axes[1].plot(ep, [r["val_loss"] for r in fine], "C0", marker="o", label="validation")
        axes[1].legend(fontsize=7)
        off = max((r["epoch"] for r in head), default=0)
        axes[2].plot([off + e for e in ep], [r["val_acc"] for r in fine], "k", marker="o", label="fine-tune")
    axes[1].set(xlabel="epoch", ylabel="cross-entropy", title="stage 2: fine-tune last stages")
    axes[2].set(xlabel="epoch (fine-tune epochs after the head epochs)", ylabel="accuracy",
                title="validation accuracy")
    axes[2].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(cfg: ClassifierConfig) -> dict:
    torch.set_num_threads(max(1, cfg.threads))
    seed_everything(cfg.seed)
    t_start = time.time()
    name = cfg.run_name()
    run_dir = Path(cfg.out_dir) if cfg.out_dir else Path("runs") / name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("")
    (run_dir / "config.json").write_text(json.dumps({"config": dataclasses.asdict(cfg), "argv": sys.argv},
                                                    indent=2))
    rows: list[dict] = []

    def log(row: dict) -> None:
        rows.append(row)
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def say(msg: str) -> None:
        print(msg, flush=True)

    data_root = cfg.data_root or str(sr_config.data_root())
    kw = dict(data_root=data_root, seed=cfg.seed, size=cfg.input_size, limit=cfg.limit, cache=cfg.cache)
    train, val = load_split("train", **kw), load_split("val", **kw)
    say(f"{name}: {len(train)} training and {len(val)} validation photos from {data_root}/cats_dogs/train "
        f"(split {cfg.train_fraction:.0%}/{1 - cfg.train_fraction:.0%}, seed {cfg.seed})")
    train_x, train_y, val_x, val_y = train.hr, train.labels, val.hr, val.labels
    sr_info = None
    val_parts = {"hr": slice(0, len(val))}
    if cfg.variant == "b":
        sr_path = snapshot_sr_weights(cfg.sr_model, run_dir / "sr_model")
        sr_info = sr_model_id(sr_path)
        sr_info["sr_model"] = cfg.sr_model
        say(f"variant b: adding SR images of the 32x32 versions made by {cfg.sr_model} ({sr_path})")
        train_sr = upscaled(train, sr_path, cache=cfg.cache)
        val_sr = upscaled(val, sr_path, cache=cfg.cache)
        train_x, train_y = torch.cat([train.hr, train_sr]), torch.cat([train.labels, train.labels])
        val_x, val_y = torch.cat([val.hr, val_sr]), torch.cat([val.labels, val.labels])
        val_parts = {"hr": slice(0, len(val)), "sr": slice(len(val), 2 * len(val))}

    model = Classifier(cfg.backbone, input_size=cfg.input_size, dropout=cfg.dropout, pretrained=cfg.pretrained)
    model.set_trainable("head")

    # stage 1: features of the frozen backbone, computed once
    t0 = time.time()
    n_feat = len(train_x) * cfg.feature_views + len(val_x)
    bar = _progress(cfg, total=n_feat, desc="features", unit="img")
    transform = augmentation()
    feats = [compute_features(model, train_x, bar=bar)]
    for _ in range(cfg.feature_views - 1):
        feats.append(compute_features(model, train_x, transform, bar=bar))
    feats = torch.cat(feats)
    labels = train_y.repeat(cfg.feature_views)
    val_feats = compute_features(model, val_x, bar=bar)
    bar.close()
    say(f"features of {n_feat} images in {time.time() - t0:.0f} s")
    best = head_stage(cfg, model, feats, labels, val_feats, val_y, log)
    say(f"head: best lr {best['lr']:g} at epoch {best['epoch']}: val loss {best['val_loss']:.4f}, "
        f"val acc {best['val_acc']:.4f}")

    # stage 2: fine-tune
    if cfg.finetune_epochs > 0:
        best = finetune_stage(cfg, model, train_x, train_y, val_x, val_y, best, log, say)
    model.load_state_dict(best.pop("state"))
    model.eval()
    selection = {k: best[k] for k in ("stage", "lr", "epoch", "val_loss", "val_acc")}
    say(f"selected: {selection}")

    probs = probabilities(model, val_x)
    metrics = {f"val_{part}": classification_metrics(probs[sl], val_y[sl]) for part, sl in val_parts.items()}
    if len(val_parts) > 1:
        metrics["val_all"] = classification_metrics(probs, val_y)
    log({"kind": "final", **{f"{k}_acc": v["accuracy"] for k, v in metrics.items()},
         **{f"{k}_loss": v["loss"] for k, v in metrics.items()}})
    plot_curves(rows, run_dir / "curves.png", title=f"{name} ({cfg.backbone}, variant {cfg.variant})")

    training_data = {
        "photos": f"cats_dogs/train (cat/dog), {len(train)} of {len(train) + len(val)} by a per-class "
                  f"{cfg.train_fraction:.0%}/{1 - cfg.train_fraction:.0%} split (sr_core.data.split_paths, "
                  f"seed {cfg.seed}); the rest validates",
        "images": "HR 128x128 (direct Pillow bicubic resize)" + (
            " + SR 128x128 upscaled from the Pillow-bicubic 32x32 versions" if cfg.variant == "b" else ""),
        "n_train": len(train_x), "n_val": len(val_x)}
    meta = dict(name=name, variant=cfg.variant, backbone=cfg.backbone, training_data=training_data,
                sr_model=sr_info, metrics=metrics, selection=selection, seed=cfg.seed,
                training={k: v for k, v in dataclasses.asdict(cfg).items()}, history=rows,
                train_seconds=round(time.time() - t_start, 1))
    save_classifier(model, run_dir / "weights", half=True, **meta)
    export = cfg.export
    if export == "auto":
        export = "" if cfg.tiny else str(sr_config.weights_dir() / f"classifier-{cfg.variant}")
    if export:
        dest = Path(export)
        dest.mkdir(parents=True, exist_ok=True)
        for f in ("model.safetensors", "config.json"):
            shutil.copy2(run_dir / "weights" / f, dest / f)
        shutil.copy2(run_dir / "curves.png", dest / "curves.png")
        say(f"exported to {dest}")
    say(f"done in {time.time() - t_start:.0f} s: " + ", ".join(
        f"{k} acc {v['accuracy']:.4f} loss {v['loss']:.4f}" for k, v in metrics.items()))
    return metrics


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return run(cfg)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
