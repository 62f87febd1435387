"""Stage 4.2: the image-level tag check on the classifier's fixed crop grid."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import cv2
import numpy as np

from wsps.crops import crop_grid
from wsps.labels import present_labels


def _inside(inner: slice, outer: slice) -> bool:
    return outer.start <= inner.start and inner.stop <= outer.stop


def check_image_level_tags(
    label: np.ndarray, gt_label: np.ndarray, crop_size: Sequence[int], ignore_label: int = 255
) -> np.ndarray:
    """In every crop, labels absent from the same crop of `gt_label` become `ignore_label`.

    The test only ever writes `ignore_label`, so the reference's crop-by-crop loop amounts to:
    a pixel is dropped when any crop holding it lacks its label. The crop edges cut the canvas
    into disjoint cells, each inside a fixed set of crops: the tags come from one histogram of
    `gt_label` per cell, and one table lookup per cell finds the pixels to drop.
    """
    if gt_label.shape != label.shape:
        raise ValueError(
            f"tag label map is {gt_label.shape[0]}x{gt_label.shape[1]} but the label map is "
            f"{label.shape[0]}x{label.shape[1]}"
        )
    crops = crop_grid(label.shape, crop_size)
    row_cuts = sorted({edge for rows, _ in crops for edge in (rows.start, rows.stop)})
    col_cuts = sorted({edge for _, cols in crops for edge in (cols.start, cols.stop)})
    cells = [(slice(*r), slice(*c)) for r in pairwise(row_cuts) for c in pairwise(col_cuts)]
    covering = [[k for k, (rows, cols) in enumerate(crops) if _inside(r, rows) and _inside(c, cols)] for r, c in cells]
    gt_present = [present_labels(gt_label[cell]) for cell in cells]
    tags = [np.zeros(256, dtype=bool) for _ in crops]
    for present, crop_ids in zip(gt_present, covering):
        for k in crop_ids:
            tags[k] |= present
    out = label.copy()
    for cell, crop_ids in zip(cells, covering):
        if not crop_ids:
            continue  # a margin no crop reaches, when the overlap rounds up
        disallowed = ~np.logical_and.reduce([tags[k] for k in crop_ids])
        drop = cv2.LUT(label[cell], disallowed.astype(np.uint8)).view(bool)
        out[cell][drop] = ignore_label
    return out
