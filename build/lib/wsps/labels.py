"""Cityscapes train-id constants, taken from cityscapesscripts' label table."""

from __future__ import annotations

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

IGNORE_LABEL = 255

#: Train-id label tuples 0..18, in train-id order.
TRAIN_LABELS = sorted((lb for lb in _CS_LABELS if 0 <= lb.trainId < IGNORE_LABEL), key=lambda lb: lb.trainId)
CLASS_NAMES: tuple[str, ...] = tuple(lb.name for lb in TRAIN_LABELS)
STUFF_CLASSES: tuple[int, ...] = tuple(lb.trainId for lb in TRAIN_LABELS if not lb.hasInstances)
THING_CLASSES: tuple[int, ...] = tuple(lb.trainId for lb in TRAIN_LABELS if lb.hasInstances)


def _voc_colour(index: int) -> tuple[int, int, int]:
    """The PASCAL VOC colour of `index` (bit-interleaved), used by the reference beyond index 18."""
    r = g = b = 0
    for shift in range(7, -1, -1):
        r |= ((index >> 0) & 1) << shift
        g |= ((index >> 1) & 1) << shift
        b |= ((index >> 2) & 1) << shift
        index >>= 3
    return r, g, b


def make_palette() -> np.ndarray:
    """The 256x3 uint8 palette of the reference's `colormapcs.mat`.

    Cityscapes train-id colours for 0..18, VOC colours for the other indices (so instance
    maps with many ids stay readable), and black for the ignore label.
    """
    palette = np.array([_voc_colour(i) for i in range(256)], dtype=np.uint8)
    for lb in TRAIN_LABELS:
        palette[lb.trainId] = lb.color
    palette[IGNORE_LABEL] = 0
    return palette


PALETTE = make_palette()


def _label_id_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per official label id (0..255): its train id (255 when ignored) and whether it has instances."""
    train_id = np.full(256, IGNORE_LABEL, dtype=np.uint16)
    has_instances = np.zeros(256, dtype=bool)
    for lb in _CS_LABELS:
        if 0 <= lb.id < 256:
            train_id[lb.id] = lb.trainId if 0 <= lb.trainId < IGNORE_LABEL else IGNORE_LABEL
            has_instances[lb.id] = lb.hasInstances
    return train_id, has_instances


def _instance_lut() -> np.ndarray:
    """A 65536-entry table from `*_instanceIds.png` values to `*_instanceTrainIds.png` values.

    As cityscapesscripts encodes train ids: an instance (`labelId*1000 + k`) of a class with
    instances and a train id becomes `trainId*1000 + k`; anything else its bare train id.
    """
    train_id, has_instances = _label_id_tables()
    values = np.arange(65536)
    label_id = np.where(values >= 1000, values // 1000, values)
    valid = label_id < 256
    train = np.where(valid, train_id[np.minimum(label_id, 255)], IGNORE_LABEL)
    instance = valid & (values >= 1000) & has_instances[np.minimum(label_id, 255)] & (train != IGNORE_LABEL)
    return np.where(instance, train * 1000 + values % 1000, train).astype(np.uint16)


_LABEL_LUT = _label_id_tables()[0].astype(np.uint8)
_INSTANCE_LUT = _instance_lut()


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """An official `*_labelIds.png` map (uint8) as a `*_labelTrainIds.png` map."""
    return _LABEL_LUT[label_ids]


def instance_ids_to_train_ids(instance_ids: np.ndarray) -> np.ndarray:
    """An official `*_instanceIds.png` map (uint16) as a `*_instanceTrainIds.png` map."""
    return _INSTANCE_LUT[instance_ids]


def present_labels(label: np.ndarray) -> np.ndarray:
    """A 256-entry boolean table of the values in a uint8 map (OpenCV's histogram: fast on views)."""
    return cv2.calcHist([label], [0], None, [256], [0, 256]).ravel() > 0
