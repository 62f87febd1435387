"""Stage 4.2: the image-level tag check on the classifier's fixed crop grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def crop_grid(canvas_size: Sequence[int], crop_size: Sequence[int]) -> list[tuple[slice, slice]]:
    """The (rows, cols) slices of the overlapping crops that tile the canvas.

    `n = ceil(extent / crop)` crops per axis overlapping by `ceil((n*crop - extent) / (n-1))`;
    1024x2048 with 400x500 crops gives the paper's 15 crops (3 rows, 5 columns), ordered
    column by column as in the reference. A crop as large as the canvas along an axis gives a
    single tile there, which the reference cannot handle (it divides by n-1 = 0): refused.
    """
    height, width = (int(v) for v in canvas_size)
    crop_h, crop_w = (int(v) for v in crop_size)
    if crop_h <= 0 or crop_w <= 0:
        raise ValueError(f"crop size {crop_h}x{crop_w} must be positive")
    n_w, n_h = _ceil_div(width, crop_w), _ceil_div(height, crop_h)
    if n_w < 2 or n_h < 2:
        raise ValueError(
            f"crop size {crop_h}x{crop_w} (rows x cols) tiles the {height}x{width} canvas with a single crop along "
            f"{'the width' if n_w < 2 else 'the height'}; the reference's crop grid needs at least two crops per axis "
            "(choose a crop smaller than the canvas, or switch the tag check off)"
        )
    overlap_w = _ceil_div(n_w * crop_w - width, n_w - 1)
    overlap_h = _ceil_div(n_h * crop_h - height, n_h - 1)
    return [
        (slice(j * (crop_h - overlap_h), j * (crop_h - overlap_h) + crop_h),
         slice(i * (crop_w - overlap_w), i * (crop_w - overlap_w) + crop_w))
        for i in range(n_w)
        for j in range(n_h)
    ]


def crop_tags(gt_label: np.ndarray, crop: tuple[slice, slice]) -> np.ndarray:
    """A 256-entry boolean table of the labels present in one crop: its image-level tags."""
    return np.bincount(gt_label[crop].ravel(), minlength=256).astype(bool)


def check_image_level_tags(
    label: np.ndarray, gt_label: np.ndarray, crop_size: Sequence[int], ignore_label: int = 255
) -> np.ndarray:
    """In every crop, labels absent from the same crop of `gt_label` become `ignore_label`.

    The test only ever writes `ignore_label`, so a pixel is dropped when any crop holding it
    lacks its label: the crops can be checked independently, against the input.
    """
    if gt_label.shape != label.shape:
        raise ValueError(f"tag label map is {gt_label.shape[0]}x{gt_label.shape[1]} but the label map is {label.shape[0]}x{label.shape[1]}")
    out = label.copy()
    for crop in crop_grid(label.shape, crop_size):
        tags = crop_tags(gt_label, crop)
        pred_crop, out_crop = label[crop], out[crop]
        for value in np.flatnonzero(np.bincount(pred_crop.ravel(), minlength=256)):
            if not tags[value]:
                out_crop[pred_crop == value] = ignore_label
    return out
