"""Score any label folder (a pseudo-GT, or predictions) against the true GT of a split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wsps.data.cityscapes import LabelSource, instances_from_pseudo, read_targets
from wsps.eval.panoptic import evaluate_panoptic, panoptic_gt, write_panoptic
from wsps.eval.semantic import SemanticIoU
from wsps.io import read_label_png
from wsps.labels import THING_CLASSES


def score_label_folder(data_root: Path, split: str, ids: Sequence[str], sem_dir: Path, ins_dir: Path | None, work_dir: Path,
                       template: str = "%s_leftImg8bit.png", thing_classes=THING_CLASSES) -> dict[str, float]:
    """mIoU (and `IoU/<class>`) of `sem_dir` (255 counts as a miss) and, with `ins_dir`, PQ of the panoptic maps the
    two folders make (generate_gt's convention: instance ids 1..254 on thing pixels), against the
    split's true labels. Intermediate panoptic files go to `work_dir`."""
    iou = SemanticIoU()
    for image_id in ids:
        truth, _ = read_targets(Path(data_root), split, image_id, LabelSource(), thing_classes)
        sem = read_label_png(Path(sem_dir) / (template % image_id))
        iou.update(sem, truth)
        if ins_dir is not None:
            inst = instances_from_pseudo(sem, read_label_png(Path(ins_dir) / (template % image_id)), thing_classes)
            write_panoptic(Path(work_dir) / "pred", image_id, sem, inst, thing_classes)
    scores = {"mIoU": iou.miou(), **{f"IoU/{name}": value for name, value in iou.per_class().items()}}
    if ins_dir is not None:
        gt_json, gt_folder = panoptic_gt(Path(data_root), split, Path(work_dir) / "gt")
        panoptic = evaluate_panoptic(gt_json, gt_folder, Path(work_dir) / "pred", ids)
        scores.update({k: float(panoptic[k]) for k in ("PQ", "PQ_th", "PQ_st", "SQ", "RQ")})
    return scores
