"""mIoU with torchmetrics, where a prediction of 255 (no label) counts as a miss."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.classification import MulticlassJaccardIndex


class SemanticIoU(MulticlassJaccardIndex):
    """Per-class IoU over images (`compute`) and its mean (`miou`). Classes absent from both
    predictions and targets are NaN and left out of the mean (Cityscapes' convention).
    Predicted `ignore_label` pixels go to an extra "unlabelled" class: they lower the IoU of
    the true class, as unlabelled pseudo-GT should. A Metric: synced across processes."""

    def __init__(self, num_classes: int, ignore_label: int = 255):
        super().__init__(num_classes + 1, average="none", ignore_index=ignore_label, zero_division=float("nan"))
        self.classes, self.ignore_label = num_classes, ignore_label

    def update(self, pred, target) -> None:
        pred, target = (torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in (pred, target))
        pred, target = pred.long().flatten(), target.long().flatten()
        pred = torch.where((pred == self.ignore_label) | (pred >= self.classes), self.classes, pred)
        super().update(pred, target)

    def compute(self) -> torch.Tensor:
        return super().compute()[: self.classes]

    def miou(self) -> float:
        return float(torch.nanmean(self.compute()))

    def per_class(self, names: Sequence[str]) -> dict[str, float]:
        """IoU by class name, classes absent from predictions and targets left out: where the
        mean comes from (thin classes with no cue, classes confused with their neighbours)."""
        return {name: float(v) for name, v in zip(names, self.compute().tolist()) if not math.isnan(v)}


SCORE_THRESHOLDS = tuple(k / 20 for k in range(1, 20)) + (0.99,)


def best_threshold(scores: Mapping[float, tuple[float, float]], beta: float = 0.5) -> float:
    """The threshold whose (precision, coverage) has the best F-beta, the first on ties: the one
    sweep behind both the CAM threshold and generate_gt's score threshold."""
    return max(scores, key=lambda t: f_beta(*scores[t], beta=beta))


def f_beta(precision: float, coverage: float, beta: float = 0.5) -> float:
    """F-measure weighting precision `1/beta` times as much as coverage: pseudo labels may leave
    pixels unlabelled, wrong labels are what hurts."""
    if precision + coverage == 0:
        return 0.0
    return (1 + beta**2) * precision * coverage / (beta**2 * precision + coverage)


class ScoreHistogram(Metric):
    """Histograms of the winning class's softmax score over non-ignored pixels: all of them, and
    those whose label is right. `best_threshold` then tells which score threshold (generate_gt's
    `score_thresh`) keeps pixels with the best F0.5 of precision and coverage."""

    def __init__(self, bins: int = 100, ignore_label: int = 255):
        super().__init__()
        self.bins, self.ignore_label = bins, ignore_label
        self.add_state("total", torch.zeros(bins), dist_reduce_fx="sum")
        self.add_state("correct", torch.zeros(bins), dist_reduce_fx="sum")

    def update(self, score: torch.Tensor, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = target != self.ignore_label
        index = (score[valid].float() * self.bins).long().clamp(0, self.bins - 1)
        self.total += torch.bincount(index, minlength=self.bins).to(self.total.dtype)
        self.correct += torch.bincount(index[pred[valid] == target[valid]], minlength=self.bins).to(self.correct.dtype)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.total, self.correct

    def best_threshold(self, thresholds=SCORE_THRESHOLDS) -> tuple[float, float, float]:
        """(threshold, precision, coverage) with the best F0.5 among `thresholds`."""
        total, correct = self.compute()
        return sweep_histogram(total, correct, thresholds)


def sweep_histogram(total, correct, thresholds=SCORE_THRESHOLDS) -> tuple[float, float, float]:
    """(threshold, precision, coverage) with the best F0.5 from score histograms over [0, 1]:
    `total[b]` pixels in bin b, `correct[b]` of them right; a threshold keeps the bins from its own.
    Coverage is the right kept pixels over all of them. (0, 0, 0) when nothing is right."""
    total, correct = (np.asarray(torch.as_tensor(h).double().cpu()) for h in (total, correct))
    bins, scores = len(total), {}
    for t in thresholds:
        start = int(round(t * bins))
        kept, right = float(total[start:].sum()), float(correct[start:].sum())
        scores[t] = (right / kept if kept else 0.0), (right / float(total.sum()) if total.sum() else 0.0)
    if not any(f_beta(*pc) > 0 for pc in scores.values()):
        return 0.0, 0.0, 0.0
    best = best_threshold(scores)
    return best, *scores[best]
