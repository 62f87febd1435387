"""Boxes (spec 3): extraction, the release's .mat layout, loading and clipping."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from tests.conftest import SAMPLE_ID, box
from wsps.gt.boxes import (
    BoxObject,
    box_slices,
    extract_boxes,
    load_boxes,
    read_boxes_mat,
    write_boxes_json,
    write_boxes_mat,
)
from wsps.io import InputError
from wsps.labels import CLASS_NAMES, STUFF_CLASSES, THING_CLASSES


def _extract(instance_map, **kw):
    return extract_boxes(instance_map, CLASS_NAMES, STUFF_CLASSES, THING_CLASSES, **kw)


INSTANCE_MAP = np.array(
    [[0, 0, 13001, 13001, 255], [8, 0, 13001, 11, 11], [13000, 13000, 700, 1000, 19], [11, 18002, 18002, 18002, 8]],
    np.uint16,
)


def test_extraction_order_kinds_and_coordinates():
    objects = _extract(INSTANCE_MAP)
    assert objects == [
        BoxObject("road", 0, 0, 4, 3, is_stuff=True),
        BoxObject("vegetation", 0, 0, 4, 3, is_stuff=True),
        BoxObject("person", 0, 1, 4, 3, is_grp=True),  # group over its scattered pixels
        BoxObject("car", 0, 2, 1, 2),  # 13000: instance 0 of car (> 1000)
        BoxObject("car", 2, 0, 3, 1),
        BoxObject("bicycle", 1, 3, 3, 3),
    ]  # 255, 19, 700 and exactly 1000 give nothing


def test_extraction_options():
    assert [o.name for o in _extract(INSTANCE_MAP, is_panoptic=False)] == ["person", "car", "car", "bicycle"]
    assert [o.name for o in _extract(INSTANCE_MAP, incl_grps=False)] == ["road", "vegetation", "car", "car", "bicycle"]


def test_extraction_unknown_instance_class():
    with pytest.raises(ValueError, match="instance value 24000 names train id 24"):
        _extract(np.array([[24000, 1001]], np.uint16))  # 1001 (sidewalk instance 1) is fine, 24000 is not


def test_mat_round_trip_matches_release_layout(tmp_path):
    objects = _extract(INSTANCE_MAP)
    write_boxes_mat(tmp_path / "b.mat", objects)
    assert read_boxes_mat(tmp_path / "b.mat") == objects
    raw = scipy.io.loadmat(tmp_path / "b.mat")["dets"][0, 0]["annotation"][0, 0]["object"]
    assert raw.shape == (1, 6)
    assert raw[0, 3]["name"][0] == "car" and raw[0, 3]["bndbox"][0, 0]["ymin"][0] == "2"
    assert raw[0, 2]["is_grp"][0] == "1" and raw[0, 0]["is_stuff"][0] == "1"
    write_boxes_json(tmp_path / "b.json", objects)
    assert '"name": "bicycle"' in (tmp_path / "b.json").read_text()


@pytest.mark.parametrize("objects", [[], [BoxObject("car", 1, 2, 3, 4)]])
def test_mat_round_trip_empty_and_single(tmp_path, objects):
    write_boxes_mat(tmp_path / "b.mat", objects)
    assert read_boxes_mat(tmp_path / "b.mat") == objects


def test_read_authors_box_file(sample):
    path = sample / "reference/gtFine_bboxes/train/panoptic" / f"{SAMPLE_ID}_leftImg8bit.mat"
    objects = read_boxes_mat(path)
    assert len(objects) == 21
    assert objects[0] == BoxObject("road", 0, 0, 2047, 1023, is_stuff=True)
    assert objects[8] == BoxObject("person", 892, 446, 912, 498)


def test_read_numeric_fields(tmp_path):
    # a box file written by other tools with numbers instead of strings
    scipy.io.savemat(
        tmp_path / "n.mat",
        {
            "dets": {
                "annotation": {
                    "object": {
                        "name": "car",
                        "bndbox": {"xmin": 1.0, "ymin": 2, "xmax": 3, "ymax": 4},
                        "is_grp": 0,
                        "is_stuff": False,
                    }
                }
            }
        },
    )
    assert read_boxes_mat(tmp_path / "n.mat") == [BoxObject("car", 1, 2, 3, 4)]


@pytest.mark.parametrize(
    "content, problem",
    [
        ({"x": 1}, "not a box file"),
        (
            {
                "dets": {
                    "annotation": {
                        "object": {"name": "car", "bndbox": {"xmin": "a", "ymin": "0", "xmax": "1", "ymax": "1"}}
                    }
                }
            },
            "bndbox.xmin is not a number",
        ),
        (
            {
                "dets": {
                    "annotation": {
                        "object": {"name": "car", "bndbox": {"xmin": "0.5", "ymin": "0", "xmax": "1", "ymax": "1"}}
                    }
                }
            },
            "not an integer",
        ),
    ],
)
def test_read_malformed_box_files(tmp_path, content, problem):
    scipy.io.savemat(tmp_path / "bad.mat", content)
    with pytest.raises(InputError, match=problem) as info:
        read_boxes_mat(tmp_path / "bad.mat")
    assert str(tmp_path / "bad.mat") in str(info.value)


def test_read_missing_and_corrupt_box_files(tmp_path):
    with pytest.raises(InputError, match="box file not found"):
        read_boxes_mat(tmp_path / "missing.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match="cannot read box file"):
        read_boxes_mat(tmp_path / "junk.mat")


def test_load_clips_computes_area_and_names_unknown_classes():
    objects = [
        BoxObject("car", -5, -2, 10, 4),
        BoxObject("road", 0, 0, 2047, 1023, is_stuff=True),
        BoxObject("person", 15, 7, 30, 9, is_grp=True),
    ]
    boxes = load_boxes(objects, CLASS_NAMES, (8, 20))
    assert boxes == [box(13, 0, 0, 10, 4), box(0, 0, 0, 19, 7, is_stuff=True), box(11, 15, 7, 19, 7, is_grp=True)]
    assert [b.area for b in boxes] == [55, 160, 5]
    with pytest.raises(ValueError, match="object 1 names an unknown class 'lorry'"):
        load_boxes([BoxObject("lorry", 0, 0, 1, 1)], CLASS_NAMES, (8, 20))


def test_box_slices_never_wrap():
    label = np.arange(20).reshape(4, 5)
    assert label[box_slices(box(13, 1, 1, 3, 2))].tolist() == [[6, 7, 8], [11, 12, 13]]
    assert label[box_slices(box(13, 1, 1, 3, 2), top_left_inclusive=False)].tolist() == [[12, 13]]
    assert label[box_slices(box(13, 0, 0, -2, 3))].size == 0  # inverted after clipping
    assert label[box_slices(box(13, 7, 0, 4, 3))].size == 0
