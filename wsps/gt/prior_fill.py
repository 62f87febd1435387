"""Stage 4.1b (ours, off in every preset): pixels the score threshold dropped keep an earlier label.

With a segmenter that is no surer than its training labels, the reference's score threshold
empties whole classes (the ones it is least sure of), and a class absent from one round's
pseudo-GT is never predicted again. Filling those pixels from the previous round's pseudo-GT
keeps what was known; the later stages (tags, M&G, box prior) still clean the result.
"""

from __future__ import annotations

import numpy as np


def fill_from_prior(label: np.ndarray, prior: np.ndarray, ignore_label: int = 255) -> np.ndarray:
    """`label`, with its `ignore_label` pixels taken from `prior` (which may itself be ignore)."""
    if prior.shape != label.shape:
        raise ValueError(f"prior map is {prior.shape[0]}x{prior.shape[1]} but the label map is {label.shape[0]}x{label.shape[1]}")
    return np.where(label == ignore_label, prior, label).astype(label.dtype, copy=False)
