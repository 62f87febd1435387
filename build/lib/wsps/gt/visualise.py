"""The reference's `visualise_results` view as an image: raw labels, scores, cleaned labels, instances."""

from __future__ import annotations

import numpy as np

from wsps.labels import PALETTE


def four_panel(
    pred: np.ndarray, scores: np.ndarray | None, sem: np.ndarray, ins: np.ndarray | None, step: int = 2
) -> np.ndarray:
    """A 2x2 RGB mosaic (subsampled by `step`): prediction | scores, cleaned GT | instances.

    Scores are shown as grey levels in [0, 1]; a panel without data (no score stage, no
    instance step) is black.
    """

    def colour(label):
        return PALETTE[label[::step, ::step]] if label is not None else black

    black = np.zeros(pred[::step, ::step].shape + (3,), dtype=np.uint8)
    if scores is not None:
        grey = (np.clip(np.nan_to_num(scores[::step, ::step]), 0, 1) * 255).round().astype(np.uint8)
        score_panel = np.repeat(grey[:, :, None], 3, axis=2)
    else:
        score_panel = black
    return np.concatenate(
        [np.concatenate([colour(pred), score_panel], axis=1), np.concatenate([colour(sem), colour(ins)], axis=1)],
        axis=0,
    )
