"""Per-box cue masks into label maps, and the cues' consensus, the M&G map (pure functions)."""

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


CONSENSUS_RULES = ("all", "majority")


def consensus(
    maps: Sequence[np.ndarray], thing_classes: Sequence[int], rule: str = "all", ignore_label: int = 255
) -> np.ndarray:
    """The cues' agreement, the M&G map: a pixel keeps a thing class, or background (0), that
    every map gives it (`rule="all"`) or more than half of them (`"majority"`); the rest
    (disagreement, contested, no cue inside a box) becomes `ignore_label`. With two maps both
    rules are the paper's: GrabCut and the proposal agree.

    Args:
        maps: one (H, W) uint8 label map per cue (`cue_map`).
    """
    if rule not in CONSENSUS_RULES:
        raise ValueError(f"consensus={rule!r}: choose one of {', '.join(CONSENSUS_RULES)}")
    stack = np.stack(maps)
    votes = np.stack([(stack == m).sum(axis=0) for m in stack])  # per map: how many maps agree with it
    best = votes.argmax(axis=0)
    label = np.take_along_axis(stack, best[None], axis=0)[0]
    needed = len(maps) if rule == "all" else len(maps) // 2 + 1
    agree = np.take_along_axis(votes, best[None], axis=0)[0] >= needed
    keep = agree & (np.isin(label, thing_classes) | (label == 0))
    return np.where(keep, label, ignore_label).astype(np.uint8)
