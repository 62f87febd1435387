"""GrabCut inside one box (OpenCV), with context around it for the background model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from wsps.cues.window import box_window
from wsps.gt.boxes import Box


@dataclass(frozen=True)
class GrabCutParams:
    """`margin`: context on every side, as a share of the box size (at least `min_margin` px).
    `fg_core`: the central share of the box's width and height seeded as sure foreground, which
    keeps GrabCut from collapsing to nothing where the context holds look-alikes (a row of
    parked cars). `max_side`: windows are shrunk to this working size. `seed`: OpenCV's RNG,
    which GrabCut's k-means initialisation draws from."""

    margin: float = 0.5
    min_margin: int = 10
    fg_core: float = 0.5
    iterations: int = 5
    max_side: int = 256
    seed: int = 0


def grabcut_box(image: np.ndarray, box: Box, params: GrabCutParams) -> tuple[slice, slice, np.ndarray]:
    """GrabCut's foreground for one box: (rows, cols, mask) of its window in the image.

    Outside the box is sure background, the box probable foreground, its core sure foreground.
    """
    window = box_window(box, image.shape, params.margin, params.min_margin, params.max_side)
    work = window.shrink(image)
    x0, y0, x1, y1 = window.box
    mask = np.full(window.size, cv2.GC_BGD, np.uint8)
    mask[y0 : y1 + 1, x0 : x1 + 1] = cv2.GC_PR_FGD
    if params.fg_core > 0:
        half_w, half_h = (x1 - x0 + 1) * params.fg_core / 2, (y1 - y0 + 1) * params.fg_core / 2
        cx, cy = (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2
        mask[int(cy - half_h) : int(np.ceil(cy + half_h)), int(cx - half_w) : int(np.ceil(cx + half_w))] = cv2.GC_FGD
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(params.seed)
    try:
        cv2.grabCut(
            cv2.cvtColor(work, cv2.COLOR_RGB2BGR),
            mask,
            None,
            background,
            foreground,
            params.iterations,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:
        pass  # a box too small or too uniform to model: the seeds stand as they are
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return window.rows, window.cols, window.expand(fg)


def grabcut_cue(image: np.ndarray, boxes: Sequence[Box], **params) -> list[tuple[slice, slice, np.ndarray]]:
    """The thing cue `grabcut` (conf/thing_cues/grabcut.yaml): GrabCut's foreground in each box,
    as (rows, cols, mask) of its window; `params` are `GrabCutParams`' fields."""
    settings = GrabCutParams(**params)
    return [grabcut_box(image, box, settings) for box in boxes]
