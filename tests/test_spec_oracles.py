"""The fast stages against literal transcriptions of the spec's loops, on random maps.

The oracles below follow the spec's wording step by step (crop by crop, box by box, pixel by
pixel) and are slow; the implementations decompose the same rules for speed.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import box
from wsps.crops import crop_grid
from wsps.gt.image_tags import check_image_level_tags
from wsps.gt.instances import ins_box_process
from wsps.gt.mandg_merge import merge_with_mcg_and_grabcut
from wsps.labels import CLASS_NAMES

I = 255
STUFF, THINGS = tuple(range(11)), tuple(range(11, 19))


def tags_oracle(label, gt, crop_size):
    out = label.copy()
    for rows, cols in crop_grid(label.shape, crop_size):
        present_gt = set(np.unique(gt[rows, cols]).tolist())
        crop = out[rows, cols]  # reads the running output, as the reference does
        for value in np.unique(crop).tolist():
            if value not in present_gt:
                crop[crop == value] = I
    return out


def instances_oracle(sem, boxes):
    ins = np.zeros(sem.shape, np.uint8)
    ins[sem == I] = I
    seen, counter = set(), 0
    for b in boxes:
        key = (b.class_id, b.xmin, b.ymin, b.xmax, b.ymax)
        if key in seen:
            continue
        seen.add(key)
        if b.is_grp:
            continue
        counter += 1
        for y in range(max(b.ymin, 0), min(b.ymax, sem.shape[0] - 1) + 1):
            for x in range(max(b.xmin, 0), min(b.xmax, sem.shape[1] - 1) + 1):
                if sem[y, x] == b.class_id:
                    ins[y, x] = counter if ins[y, x] == 0 else I
    return ins


def merge_oracle(m, p):
    out = np.full(m.shape, I, np.uint8)
    for idx in np.ndindex(m.shape):
        mv, pv = int(m[idx]), int(p[idx])
        if mv in THINGS and (pv in THINGS or pv in STUFF or pv == I):
            out[idx] = mv
        elif mv in (0, I) and pv in STUFF:
            out[idx] = pv
    return out


def _random_labels(rng, shape, values):
    # blocky maps, so that crops and boxes see a few labels each rather than all of them
    small = rng.choice(values, size=(shape[0] // 4 + 1, shape[1] // 4 + 1))
    return np.kron(small, np.ones((4, 4), np.uint8))[: shape[0], : shape[1]].astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_tag_check_matches_crop_by_crop_loop(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(30, 60)), int(rng.integers(50, 120)))
    crop = (int(rng.integers(8, shape[0] // 2 + 2)), int(rng.integers(10, shape[1] // 2 + 2)))
    label = _random_labels(rng, shape, [0, 1, 2, 8, 11, 13, 40, I])
    gt = _random_labels(rng, shape, [0, 1, 2, 8, 11, 13, I])
    got = check_image_level_tags(label, gt, crop)
    np.testing.assert_array_equal(got, tags_oracle(label, gt, crop))
    assert (got != label).any()


@pytest.mark.parametrize("seed", range(6))
def test_instances_match_box_by_box_loop(seed):
    rng = np.random.default_rng(seed)
    shape = (24, 40)
    sem = _random_labels(rng, shape, [0, 2, 11, 13, 13, I])
    boxes = [box(0, 0, 0, 39, 23, is_stuff=True), box(2, 0, 0, 39, 23, is_stuff=True)]
    for _ in range(12):
        x0, y0 = int(rng.integers(-3, 38)), int(rng.integers(-3, 22))
        x1, y1 = x0 + int(rng.integers(-1, 15)), y0 + int(rng.integers(-1, 10))
        boxes.append(
            box(
                int(rng.choice([11, 13])),
                max(0, x0),
                max(0, y0),
                min(39, x1),
                min(23, y1),
                is_grp=bool(rng.random() < 0.2),
            )
        )
    boxes.append(boxes[3])  # a repeat
    ins, _, empty = ins_box_process(sem, boxes, CLASS_NAMES)
    want = instances_oracle(sem, boxes)
    np.testing.assert_array_equal(ins, want)
    n_ids = len({(b.class_id, b.xmin, b.ymin, b.xmax, b.ymax) for b in boxes if not b.is_grp})
    assert empty == [k for k in range(1, n_ids + 1) if not (want == k).any()]


def test_merge_matches_pixel_rule_on_every_pair():
    values = np.array([0, 1, 5, 10, 11, 13, 18, 19, 40, 254, 255], np.uint8)
    m, p = np.meshgrid(values, values, indexing="ij")
    np.testing.assert_array_equal(merge_with_mcg_and_grabcut(m, p, STUFF, THINGS), merge_oracle(m, p))
