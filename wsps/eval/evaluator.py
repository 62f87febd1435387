"""One evaluator for every place that scores labels against a split's truth: the segmenter's
validation, `python -m wsps.eval` and the loop's pseudo-GT scores.

As detectron2's evaluators: `reset`, `process` per image, `evaluate`. It keeps mIoU and the
per-class IoU (torchmetrics, synced across processes), the histogram behind the F0.5 score
threshold, and writes each image's panoptic map in cityscapesscripts' format for PQ, which
`evaluate` computes on the first process over the images every process saw. It is a
`torch.nn.Module` only so that its metric states follow the model's device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsps.data.cityscapes import LabelSource
from wsps.data.metadata import DatasetMeta
from wsps.eval.panoptic import evaluate_panoptic, panoptic_gt, write_panoptic
from wsps.eval.semantic import ScoreHistogram, SemanticIoU

PANOPTIC_KEYS = ("PQ", "PQ_th", "PQ_st", "SQ", "RQ")


class PanopticEvaluator(nn.Module):
    """Scores of semantic (and, when instances are given, panoptic) predictions of one split.

    Args:
        meta: the dataset's description (classes, things, ignore label, layout).
        data_root: the dataset root holding the split's true labels.
        split: the split whose labels are the truth.
        work_dir: where the panoptic files of predictions (`pred/`) and truth (`gt/`) go.
    """

    def __init__(
        self,
        meta: DatasetMeta,
        data_root: str | Path | None = None,
        split: str = "val",
        work_dir: str | Path | None = None,
    ):
        super().__init__()
        self.meta, self.data_root, self.split = meta, data_root, split
        self.work_dir = Path(work_dir) if work_dir else None
        self.iou = SemanticIoU(meta.num_classes, meta.ignore_label)
        self.scores = ScoreHistogram(ignore_label=meta.ignore_label)
        self.ids: list[str] = []
        self.panoptic = self.scored = False

    def reset(
        self, data_root: str | Path | None = None, split: str | None = None, work_dir: str | Path | None = None
    ) -> None:
        """Forget what was processed; optionally point at another root, split or folder."""
        self.data_root = data_root if data_root is not None else self.data_root
        self.split = split or self.split
        self.work_dir = Path(work_dir) if work_dir else self.work_dir
        self.iou.reset()
        self.scores.reset()
        self.ids, self.panoptic, self.scored = [], False, False

    def truth(self, image_id: str) -> np.ndarray:
        """The true train ids of one image of the split."""
        sem, _ = self.meta.read_targets(self.data_root, self.split, image_id, LabelSource())
        return sem

    def process(self, image_id: str, sem, truth=None, score=None, panoptic=None) -> None:
        """One image's prediction.

        Args:
            sem: (H, W) predicted train ids, `ignore_label` where unlabelled (a miss).
            truth: (H, W) true train ids; read from the split when None.
            score: (H, W) the winning class's softmax score, for the score-threshold sweep.
            panoptic: (sem, inst), each (H, W): the panoptic map's train ids and instance ids
                (> 0 on thing instances); None for semantic scores only.
        """
        device = self.scores.total.device
        truth = torch.as_tensor(self.truth(image_id) if truth is None else truth).to(device)
        sem_t = torch.as_tensor(sem).to(device)
        self.iou.update(sem_t, truth)
        if score is not None:
            self.scores.update(torch.as_tensor(score).to(device), sem_t, truth)
            self.scored = True
        if panoptic is not None:
            as_numpy = [x.cpu().numpy() if torch.is_tensor(x) else np.asarray(x) for x in panoptic]
            write_panoptic(self.work_dir / "pred", image_id, *as_numpy, self.meta.thing_classes, self.meta.ignore_label)
            self.panoptic = True
        self.ids.append(image_id)

    def evaluate(self) -> dict[str, float]:
        """`mIoU`, `IoU/<class>`, with scores `score_threshold` / `score_precision` / `score_coverage`,
        and with instances the PQ family, over everything processed since `reset` (every process's)."""
        results = {
            "mIoU": self.iou.miou(),
            **{f"IoU/{name}": v for name, v in self.iou.per_class(self.meta.class_names).items()},
        }
        if self.scored:
            threshold, precision, coverage = self.scores.best_threshold()
            results.update({"score_threshold": threshold, "score_precision": precision, "score_coverage": coverage})
        ids, panoptic = self.ids, self.panoptic
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if distributed:
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, (ids, panoptic))
            ids, panoptic = [i for part, _ in gathered for i in part], any(p for _, p in gathered)
        pq = None
        if panoptic and ids and (not distributed or torch.distributed.get_rank() == 0):
            gt_json, gt_folder = panoptic_gt(self.meta, Path(self.data_root), self.split, ids, self.work_dir / "gt")
            scores = evaluate_panoptic(gt_json, gt_folder, self.work_dir / "pred", ids)
            pq = {k: float(scores[k]) for k in PANOPTIC_KEYS}
        if distributed and panoptic:
            box = [pq]
            torch.distributed.broadcast_object_list(box, src=0)
            pq = box[0]
        return {**results, **(pq or {})}
