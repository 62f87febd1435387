"""Instance step (spec 5) on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import box
from wsps.gt.instances import MAX_INSTANCE_ID, TooManyInstances, ins_box_process
from wsps.labels import CLASS_NAMES

I = 255


def test_ids_in_file_order_contested_pixels_and_ignore():
    sem = np.array([[0, 0, 13, 13, 13, 0], [0, 13, 13, 13, 13, 0], [I, 13, 13, 11, 11, 0]], np.uint8)
    boxes = [
        box(0, 0, 0, 5, 2, is_stuff=True),  # road, image-wide: id 1
        box(13, 1, 0, 3, 2),  # car: id 2
        box(13, 3, 0, 4, 1),  # car overlapping the first at column 3: id 3
        box(11, 3, 2, 4, 2),  # person: id 4
    ]
    ins, instances, empty = ins_box_process(sem, boxes, CLASS_NAMES)
    expected = np.array([[1, 1, 2, I, 3, 1], [1, 2, 2, I, 3, 1], [I, 2, 2, 4, 4, 1]], np.uint8)
    np.testing.assert_array_equal(ins, expected)
    assert [(i.ins_id, i.class_id, i.name) for i in instances] == [
        (1, 0, "road"),
        (2, 13, "car"),
        (3, 13, "car"),
        (4, 11, "person"),
    ]
    assert empty == []


def test_duplicates_dropped_groups_skipped_empty_ids_reported():
    sem = np.full((2, 3), 13, np.uint8)
    boxes = [
        box(13, 0, 0, 1, 1),
        box(13, 0, 0, 1, 1),  # repeated object: dropped, its pixels not contested
        box(13, 0, 0, 2, 1, is_grp=True),  # group: no id
        box(11, 0, 0, 2, 1),  # person box over car pixels only: id 2 with no pixels
        box(13, 2, 0, 2, 1),  # id 3
    ]
    ins, instances, empty = ins_box_process(sem, boxes, CLASS_NAMES)
    np.testing.assert_array_equal(ins, [[1, 1, 3], [1, 1, 3]])
    assert [i.ins_id for i in instances] == [1, 2, 3]
    assert empty == [2]


def test_non_adjacent_duplicate_keeps_first_position():
    sem = np.array([[13, 13, 11]], np.uint8)
    boxes = [box(13, 0, 0, 0, 0), box(11, 2, 0, 2, 0), box(13, 1, 0, 1, 0), box(13, 0, 0, 0, 0)]
    ins, instances, _ = ins_box_process(sem, boxes, CLASS_NAMES)
    np.testing.assert_array_equal(ins, [[1, 3, 2]])
    assert [i.class_id for i in instances] == [13, 11, 13]


def test_duplicate_of_a_group_box_is_dropped_too():
    sem = np.array([[13, 13]], np.uint8)
    # the same car box as a group first, then as an instance: the instance is a repeat and dropped
    ins, instances, _ = ins_box_process(sem, [box(13, 0, 0, 1, 0, is_grp=True), box(13, 0, 0, 1, 0)], CLASS_NAMES)
    np.testing.assert_array_equal(ins, [[0, 0]])
    assert instances == []


def test_empty_box_list():
    sem = np.array([[0, I]], np.uint8)
    ins, instances, empty = ins_box_process(sem, [], CLASS_NAMES)
    np.testing.assert_array_equal(ins, [[0, I]])
    assert instances == [] and empty == []


def test_ids_never_saturate():
    sem = np.zeros((1, 300), np.uint8) + 13
    ok = [box(13, k, 0, k, 0) for k in range(MAX_INSTANCE_ID)]
    ins, _, _ = ins_box_process(sem, ok, CLASS_NAMES)
    assert ins.max() == MAX_INSTANCE_ID and ins[0, MAX_INSTANCE_ID] == 0
    with pytest.raises(TooManyInstances, match="255 instances"):
        ins_box_process(sem, ok + [box(13, 299, 0, 299, 0)], CLASS_NAMES)
