"""Stage 4.1b (ours, off in every preset): pixels the score threshold dropped keep an earlier label.

With a segmenter that is no surer than its training labels, the reference's score threshold
empties whole classes (the ones it is least sure of), and a class absent from one round's
pseudo-GT is never predicted again. Filling those pixels from the previous round's pseudo-GT
keeps what was known; the later stages (tags, M&G, box prior) still clean the result.

A class the model is unsure of everywhere (thin stuff: poles, signs, fences) can still shrink
round after round, since the model predicts it confidently on a few pixels only. With
`keep_ratio`, a stuff class left with less than that share of its prior area in an image gets
its prior pixels back, unless a thing holds them (its effect: docs/results.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fill_from_prior(
    label: np.ndarray,
    prior: np.ndarray,
    ignore_label: int = 255,
    keep_ratio: float = 0.0,
    stuff_classes: Sequence[int] = (),
    thing_classes: Sequence[int] = (),
) -> np.ndarray:
    """`label`, with its `ignore_label` pixels taken from `prior` (which may itself be ignore);
    then each of `stuff_classes` whose area fell below `keep_ratio` of its area in `prior`
    takes back its prior pixels that no thing class holds."""
    if prior.shape != label.shape:
        raise ValueError(
            f"prior map is {prior.shape[0]}x{prior.shape[1]} but the label map is {label.shape[0]}x{label.shape[1]}"
        )
    filled = np.where(label == ignore_label, prior, label).astype(label.dtype, copy=False)
    if keep_ratio <= 0:
        return filled
    before, after = np.bincount(prior.ravel(), minlength=256), np.bincount(filled.ravel(), minlength=256)
    shrunk = [c for c in stuff_classes if before[c] > 0 and after[c] < keep_ratio * before[c]]
    if shrunk:
        restore = np.isin(prior, shrunk) & ~np.isin(filled, thing_classes)
        filled = np.where(restore, prior, filled).astype(label.dtype, copy=False)
    return filled
