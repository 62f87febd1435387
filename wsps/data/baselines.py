"""A colour-only baseline: the best a classifier that sees one pixel's RGB can do.

Each RGB value, quantised to `bits` per channel, takes the training pixels' most frequent
train id in that bin (the Bayes classifier on colour alone, given enough pixels); bins never
seen take the most frequent class. The embedded dataset is built so that this scores far
below a segmentation network: texture, shape and context are needed, not colour.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _bins(image: np.ndarray, bits: int) -> np.ndarray:
    q = (image >> (8 - bits)).astype(np.int64)
    return (q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]


def fit_colour_lookup(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], num_classes: int, bits: int = 5, ignore_label: int = 255
) -> np.ndarray:
    """The lookup table (one train id per RGB bin) from (RGB image, train-id map) pairs."""
    counts = np.zeros((1 << (3 * bits), num_classes), np.int64)
    for image, label in pairs:
        valid = label != ignore_label
        np.add.at(counts, (_bins(image, bits)[valid], label[valid].astype(np.int64)), 1)
    table = counts.argmax(axis=1).astype(np.uint8)
    table[counts.sum(axis=1) == 0] = counts.sum(axis=0).argmax()
    return table


def predict_colour_lookup(table: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Train ids of an RGB image from its pixels' colours alone."""
    bits = int(round(np.log2(table.size) / 3))
    return table[_bins(image, bits)]
