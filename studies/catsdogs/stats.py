"""Statistics of the cat-vs-dog and realism studies: ROC AUC, Wilson intervals, McNemar tests, and the
per-classifier summary the reports print (``classification_metrics``)."""

from __future__ import annotations

import math

import torch


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for the positive label 1 (Mann-Whitney U, ties counted half)."""
    scores, labels = scores.double().flatten(), labels.flatten().bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = scores.argsort()
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    i, n = 0, len(scores)
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[labels].sum().item() - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))  # p inside despite rounding


def mcnemar_p(correct_a: torch.Tensor, correct_b: torch.Tensor) -> float:
    """Exact two-sided McNemar p-value for two classifiers scored on the same images."""
    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    """Loss (mean cross-entropy), accuracy (+95% Wilson interval), F1 (dog positive, and macro),
    ROC AUC of p_dog, and the confusion matrix (rows: true cat, dog; columns: predicted cat, dog)."""
    probs, labels = probs.double(), labels.long()
    n = len(labels)
    loss = -probs[torch.arange(n), labels].clamp_min(1e-7).log().mean().item() if n else float("nan")
    pred = probs.argmax(1)
    correct = int((pred == labels).sum())
    cm = [[int(((labels == t) & (pred == p)).sum()) for p in range(2)] for t in range(2)]
    f1s = []
    for cls in (0, 1):
        tp = cm[cls][cls]
        fp = cm[1 - cls][cls]
        fn = cm[cls][1 - cls]
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"))
    lo, hi = wilson_interval(correct, n)
    return {"n": n, "loss": loss, "accuracy": correct / n if n else float("nan"), "accuracy_ci95": [lo, hi],
            "f1": f1s[1], "f1_macro": sum(f1s) / 2, "roc_auc": roc_auc(probs[:, 1], labels),
            "confusion": cm}


__all__ = ["roc_auc", "wilson_interval", "mcnemar_p", "classification_metrics"]
