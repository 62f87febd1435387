"""Stage 4.3: merge the current labels with the MCG & GrabCut ("M&G") thing cue."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def merge_table(stuff_classes: tuple[int, ...], thing_classes: tuple[int, ...], ignore_label: int) -> np.ndarray:
    """The merge rule as a 256x256 table indexed by (M&G value, current label).

    M&G thing class: it wins over a thing, stuff or ignored label. M&G background (0) or no
    consensus (ignore): stuff labels are kept, thing and ignored labels become ignore.
    Anything else, on either side, becomes ignore.
    """
    table = np.full((256, 256), ignore_label, dtype=np.uint8)
    labels = np.arange(256)
    known = np.isin(labels, stuff_classes + thing_classes + (ignore_label,))
    stuff = np.isin(labels, stuff_classes)
    for m in thing_classes:
        table[m, known] = m
    for m in (0, ignore_label):
        table[m, stuff] = labels[stuff]
    return table


def merge_with_mcg_and_grabcut(
    mandg: np.ndarray,
    label: np.ndarray,
    stuff_classes: Sequence[int],
    thing_classes: Sequence[int],
    ignore_label: int = 255,
) -> np.ndarray:
    """Pixel-wise merge of the M&G map and the labels (spec 4.3)."""
    if mandg.shape != label.shape:
        raise ValueError(
            f"M&G map is {mandg.shape[0]}x{mandg.shape[1]} but the label map is {label.shape[0]}x{label.shape[1]}"
        )
    table = merge_table(tuple(int(c) for c in stuff_classes), tuple(int(c) for c in thing_classes), int(ignore_label))
    index = mandg.astype(np.uint16)
    index <<= 8
    index |= label
    return np.take(table.ravel(), index)
