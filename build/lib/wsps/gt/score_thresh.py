"""Stage 4.1: drop pixels whose winning softmax score is below `score_thresh`."""

from __future__ import annotations

import numpy as np


def apply_score_thresh(
    label: np.ndarray, scores: np.ndarray, score_thresh: float, ignore_label: int = 255
) -> np.ndarray:
    """Pixels with `score < score_thresh` become `ignore_label`.

    The comparison is made in the scores' own precision, with the threshold rounded to it first,
    as MATLAB compares a single with a double: float32(0.9) is not below a threshold of 0.9.
    """
    if scores.shape != label.shape:
        raise ValueError(
            f"score map is {scores.shape[0]}x{scores.shape[1]} but the label map is {label.shape[0]}x{label.shape[1]}"
        )
    dtype = scores.dtype if scores.dtype.kind == "f" else np.float64
    below = scores.astype(dtype, copy=False) < np.asarray(score_thresh, dtype=dtype)
    out = label.copy()
    if below.flags.f_contiguous and not below.flags.c_contiguous:
        out.T[below.T] = ignore_label  # MATLAB files load column-major: index in that order (10x faster)
    else:
        out[below] = ignore_label
    return out
