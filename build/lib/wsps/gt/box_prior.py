"""Stage 4.4: a thing class may only appear inside a box of that class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsps.gt.boxes import Box, box_slices


def apply_bbox_prior(
    label: np.ndarray, boxes: Sequence[Box], thing_classes: Sequence[int], ignore_label: int = 255
) -> np.ndarray:
    """Thing pixels outside the union of their class's boxes (groups included) become ignore."""
    out = label.copy()
    for class_id in thing_classes:
        is_class = label == class_id
        if not is_class.any():
            continue
        for box in boxes:
            if box.class_id == class_id:
                is_class[box_slices(box)] = False
        out[is_class] = ignore_label
    return out
