"""One image's job in a prediction writer's pool process: the model's finish function, then the
files. Kept apart from `wsps.models.writers` so that a pool process imports torch, OpenCV and the
finish functions, not Lightning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch

from wsps.eval.panoptic import write_panoptic
from wsps.io import write_label_png, write_score_mat


def one_thread() -> None:
    """A pool process's initialiser: one core each, as many processes as cores."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def finish_and_save(
    finish: Callable[..., dict], save: Callable[[str, dict], None], image_id: str, arrays: dict
) -> None:
    """One image's work in a pool process: `finish(**arrays)`, then `save` its results."""
    save(image_id, finish(**arrays))


@dataclass(frozen=True)
class CamLabelFiles:
    """Where CAM label maps go: `output_dir/<template % id>` (palette PNG)."""

    output_dir: Path
    template: str

    def __call__(self, image_id: str, outputs: dict) -> None:
        write_label_png(self.output_dir / (self.template % image_id), outputs["cam_label"])


@dataclass(frozen=True)
class SegmentationFiles:
    """Where the segmenter's predictions go (see `SegmentationWriter`)."""

    sem_dir: Path
    score_dir: Path
    panoptic_dir: Path
    pred_template: str
    pred_score_template: str
    thing_classes: tuple[int, ...]

    def __call__(self, image_id: str, outputs: dict) -> None:
        write_label_png(self.sem_dir / (self.pred_template % image_id), outputs["sem"])
        write_score_mat(self.score_dir / (self.pred_score_template % image_id), outputs["score"])
        write_panoptic(
            self.panoptic_dir, image_id, outputs["panoptic_sem"], outputs["panoptic_inst"], self.thing_classes
        )
