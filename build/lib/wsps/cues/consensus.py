"""Per-box cue masks into label maps, and the M&G consensus of two maps (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsps.gt.boxes import Box, box_slices


def cue_map(shape, boxes: Sequence[Box], instance_boxes: Sequence[Box], masks, ignore_label: int = 255) -> np.ndarray:
    """One cue as a label map: 0 outside every thing box (instances and groups), `ignore_label`
    inside them, and a box's class where its mask (clipped to the box) claims the pixel. A pixel
    claimed by boxes of two classes is contested: `ignore_label`. Order-independent.

    `masks[k]` is (rows, cols, mask) of `instance_boxes[k]`'s window.
    """
    out = np.zeros(shape, np.uint8)
    for box in boxes:
        if not box.is_stuff:
            out[box_slices(box)] = ignore_label
    owner = np.full(shape, -1, np.int16)  # claimed class, -2 contested
    for box, (rows, cols, mask) in zip(instance_boxes, masks):
        r, c = box_slices(box)
        claimed = mask[r.start - rows.start : r.stop - rows.start, c.start - cols.start : c.stop - cols.start]
        current = owner[r, c]
        fresh = np.where(current == -1, box.class_id, np.where(current == box.class_id, box.class_id, -2))
        owner[r, c] = np.where(claimed, fresh, current)
    out[owner >= 0] = owner[owner >= 0]
    return out


def mandg_consensus(
    grabcut: np.ndarray, proposals: np.ndarray, thing_classes: Sequence[int], ignore_label: int = 255
) -> np.ndarray:
    """Keep a thing class where both cue maps give it; background (0) where both say so; the
    rest (disagreement, contested, no cue inside a box) becomes `ignore_label`."""
    agree = grabcut == proposals
    keep = agree & (np.isin(grabcut, thing_classes) | (grabcut == 0))
    return np.where(keep, grabcut, ignore_label).astype(np.uint8)
