"""Panoptic-DeepLab training targets from a semantic and an instance map (pure numpy).

As detectron2's `PanopticDeepLabTargetGenerator`: a Gaussian at every thing instance's centre
of mass, and at every instance pixel the offset to that centre. Stuff, ignored pixels and thing
pixels without an instance (crowds, contested pixels) get no centre and no offset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A (6*sigma+3)-wide Gaussian with peak 1 at its centre."""
    size = int(6 * sigma + 3)
    x = np.arange(size, dtype=np.float32) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return np.outer(g, g)


def instance_centres(inst: np.ndarray) -> dict[int, tuple[float, float]]:
    """Centre of mass (row, col) of every positive id."""
    ids = inst.ravel()
    present = np.flatnonzero(np.bincount(ids))
    present = present[present > 0]
    if present.size == 0:
        return {}
    rows, cols = np.indices(inst.shape)
    count = np.bincount(ids)
    cy = np.bincount(ids, weights=rows.ravel()) / np.maximum(count, 1)
    cx = np.bincount(ids, weights=cols.ravel()) / np.maximum(count, 1)
    return {int(k): (float(cy[k]), float(cx[k])) for k in present}


def panoptic_targets(
    sem: np.ndarray,
    inst: np.ndarray,
    thing_classes: Sequence[int],
    sigma: float = 8.0,
    ignore_label: int = 255,
    small_instance_area: int = 0,
    small_instance_weight: float = 1.0,
) -> dict[str, np.ndarray]:
    """Targets and loss weights for one image.

    Returns `sem` (int64, ignore kept), `center` (1xHxW heatmap in [0, 1]), `offset` (2xHxW,
    row then column displacement to the centre), `center_weight` (0 on ignored pixels),
    `offset_weight` (1 on instance pixels only) and `sem_weight` (`small_instance_weight` on
    instances smaller than `small_instance_area` pixels, else 1).
    """
    height, width = sem.shape
    inst = np.where(np.isin(sem, thing_classes), inst, 0).astype(np.int64)
    center = np.zeros((height, width), np.float32)
    offset = np.zeros((2, height, width), np.float32)
    sem_weight = np.ones((height, width), np.float32)
    centres = instance_centres(inst)
    if centres:
        kernel = gaussian_kernel(sigma)
        radius = (kernel.shape[0] - 1) // 2
        lut_y = np.zeros(inst.max() + 1, np.float32)
        lut_x = np.zeros(inst.max() + 1, np.float32)
        for k, (cy, cx) in centres.items():
            lut_y[k], lut_x[k] = cy, cx
            y, x = int(round(cy)), int(round(cx))
            y0, y1, x0, x1 = (
                max(0, y - radius),
                min(height, y + radius + 1),
                max(0, x - radius),
                min(width, x + radius + 1),
            )
            patch = kernel[y0 - (y - radius) : y1 - (y - radius), x0 - (x - radius) : x1 - (x - radius)]
            np.maximum(center[y0:y1, x0:x1], patch, out=center[y0:y1, x0:x1])
        rows, cols = np.indices((height, width), dtype=np.float32)
        is_instance = inst > 0
        offset[0] = np.where(is_instance, lut_y[inst] - rows, 0)
        offset[1] = np.where(is_instance, lut_x[inst] - cols, 0)
        if small_instance_area > 0:
            areas = np.bincount(inst.ravel())
            small = is_instance & (areas[inst] < small_instance_area)
            sem_weight[small] = small_instance_weight
    return {
        "sem": sem.astype(np.int64),
        "center": center[None],
        "offset": offset,
        "center_weight": (sem != ignore_label).astype(np.float32)[None],
        "offset_weight": (inst > 0).astype(np.float32)[None],
        "sem_weight": sem_weight,
    }
