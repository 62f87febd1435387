"""Stage 4.5: fill a thing box with its class where the labels cover too little of it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsps.gt.boxes import Box, box_slices


def check_low_iou(
    label: np.ndarray,
    boxes: Sequence[Box],
    stuff_classes: Sequence[int],
    ichk_thresh: float = 0.5,
    ichk_do_not_alter_existing_things: bool = True,
    ignore_label: int = 255,
) -> np.ndarray:
    """For each instance box, largest first: if `|label == c in box| / |box| < ichk_thresh`, set
    the box's other pixels to `c` (only ignored or stuff pixels, with the option on).

    The box's pixels leave out its top row and left column: the reference rasterises the box
    with MATLAB's `poly2mask` on pixel-centre vertices. A box one pixel wide or high thus has
    no pixels and is left alone (the reference's 0/0). All tests read the input; later
    (smaller) boxes overwrite earlier ones in the output.

    The reference fixes `stuff_classes` to 0..10, Cityscapes' stuff train ids, whatever its
    options say; here they are the dataset's, the same list on Cityscapes.
    """
    out = label.copy()
    stuff = set(stuff_classes)
    is_stuff = np.zeros(256, bool)
    is_stuff[list(stuff)] = True
    keep = (label == ignore_label) | is_stuff[label] if ichk_do_not_alter_existing_things else None
    order = sorted(range(len(boxes)), key=lambda k: -boxes[k].area)  # stable: ties keep file order
    for k in order:
        box = boxes[k]
        if box.is_grp or box.class_id in stuff:
            continue
        crop = box_slices(box, top_left_inclusive=False)
        inside = label[crop]
        if inside.size == 0:
            continue
        is_class = inside == box.class_id
        if np.count_nonzero(is_class) / inside.size < ichk_thresh:
            fill = ~is_class
            if keep is not None:
                fill &= keep[crop]
            out[crop][fill] = box.class_id
    return out
