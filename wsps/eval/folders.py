"""Score any label folder (a pseudo-GT, or predictions) against the true GT of a split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wsps.data.cityscapes import instances_from_pseudo
from wsps.data.metadata import DatasetMeta
from wsps.eval.evaluator import PanopticEvaluator
from wsps.io import read_label_png


def score_label_folder(
    meta: DatasetMeta,
    data_root: Path,
    split: str,
    ids: Sequence[str],
    sem_dir: Path,
    ins_dir: Path | None,
    work_dir: Path,
) -> dict[str, float]:
    """mIoU (and `IoU/<class>`) of `sem_dir` (255 counts as a miss) and, with `ins_dir`, PQ of the panoptic maps the
    two folders make (generate_gt's convention: instance ids 1..254 on thing pixels), against the
    split's true labels. Intermediate panoptic files go to `work_dir`."""
    evaluator = PanopticEvaluator(meta, data_root, split, work_dir)
    for image_id in ids:
        sem_path = meta.label_file(sem_dir, image_id)
        sem = meta.check_labels(read_label_png(sem_path), sem_path)
        panoptic = None
        if ins_dir is not None:
            panoptic = (
                sem,
                instances_from_pseudo(
                    sem, read_label_png(meta.label_file(ins_dir, image_id)), meta.thing_classes, meta.ignore_label
                ),
            )
        evaluator.process(image_id, sem, panoptic=panoptic)
    return evaluator.evaluate()
