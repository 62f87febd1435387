"""The classifier's fixed crop grid (the paper's 15 crops per Cityscapes image), shared by the
classifier, its data and the pseudo-GT's image-level tag check."""

from __future__ import annotations

from collections.abc import Sequence


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
        (
            slice(j * (crop_h - overlap_h), j * (crop_h - overlap_h) + crop_h),
            slice(i * (crop_w - overlap_w), i * (crop_w - overlap_w) + crop_w),
        )
        for i in range(n_w)
        for j in range(n_h)
    ]
