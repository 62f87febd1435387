"""Cleaning stages (spec 4) on small hand-made arrays, one edge case per test."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import box
from wsps.crops import crop_grid
from wsps.gt.box_prior import apply_bbox_prior
from wsps.gt.image_tags import check_image_level_tags
from wsps.gt.low_iou import check_low_iou
from wsps.gt.mandg_merge import merge_with_mcg_and_grabcut
from wsps.gt.prior_fill import fill_from_prior
from wsps.gt.score_thresh import apply_score_thresh

STUFF = tuple(range(11))
THINGS = tuple(range(11, 19))
I = 255


# ---------------------------------------------------------------- 4.1 score threshold


def test_score_thresh_single_precision():
    label = np.array([[1, 2, 3, 4]], np.uint8)
    scores = np.array([[np.float32(0.9), np.nextafter(np.float32(0.9), np.float32(0)), 0.95, 0.1]], np.float32)
    # float32(0.9) < 0.9 in double precision, but not once the threshold is rounded to float32
    assert np.float64(scores[0, 0]) < 0.9
    out = apply_score_thresh(label, scores, 0.9)
    np.testing.assert_array_equal(out, [[1, I, 3, I]])
    np.testing.assert_array_equal(label, [[1, 2, 3, 4]])  # input untouched


def test_score_thresh_double_scores_compare_in_double():
    label = np.array([[1, 2]], np.uint8)
    scores = np.array([[np.float64(np.float32(0.9)), 0.9]])
    np.testing.assert_array_equal(apply_score_thresh(label, scores, 0.9), [[I, 2]])


def test_score_thresh_shape_mismatch():
    with pytest.raises(ValueError, match="score map is 1x3 but the label map is 1x2"):
        apply_score_thresh(np.zeros((1, 2), np.uint8), np.zeros((1, 3), np.float32), 0.5)


# ---------------------------------------------------------------- 4.2 image-level tags


def test_crop_grid_cityscapes_15_crops():
    crops = crop_grid((1024, 2048), (400, 500))
    assert len(crops) == 15
    col_starts = sorted({c.start for _, c in crops})
    row_starts = sorted({r.start for r, _ in crops})
    assert col_starts == [0, 387, 774, 1161, 1548]  # overlap ceil(452/4) = 113
    assert row_starts == [0, 312, 624]  # overlap ceil(176/2) = 88
    assert max(c.stop for _, c in crops) == 2048 and max(r.stop for r, _ in crops) == 1024
    assert all(r.stop - r.start == 400 and c.stop - c.start == 500 for r, c in crops)
    # column by column, as the reference loops
    assert [c.start for _, c in crops[:4]] == [0, 0, 0, 387]


def test_crop_grid_leaves_edge_uncovered_when_overlap_rounds_up():
    crops = crop_grid((512, 1024), (200, 250))
    # 5 columns, overlap ceil(226/4) = 57, stride 193: the last crop ends at column 1021
    assert max(c.stop for _, c in crops) == 1022
    assert max(r.stop for r, _ in crops) == 512  # 3 rows, overlap 44, stride 156


def test_crop_grid_single_tile_is_refused():
    with pytest.raises(ValueError, match="single crop along the width"):
        crop_grid((1024, 500), (400, 500))
    with pytest.raises(ValueError, match="single crop along the height"):
        crop_grid((300, 2048), (400, 500))
    with pytest.raises(ValueError, match="positive"):
        crop_grid((1024, 2048), (0, 500))


def test_tag_check_per_crop():
    # 4x6 canvas, 2x4 crops: columns [0,4) and [2,6), rows [0,2) and [2,4)
    gt = np.array([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1], [2, 2, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2]], np.uint8)
    pred = np.array([[0, 1, 1, 0, 1, 1], [0, 0, 0, 0, 1, 1], [2, 2, 0, 2, 2, 2], [2, 50, 2, 2, 2, I]], np.uint8)
    out = check_image_level_tags(pred, gt, (2, 4))
    expected = np.array(
        [
            [0, I, I, 0, 1, 1],  # 1 is absent from the left crop, whose columns 2..3 overlap the right one
            [0, 0, 0, 0, 1, 1],
            [2, 2, I, 2, 2, 2],  # no 0 in the lower crops' tags
            [2, I, 2, 2, 2, I],
        ],  # a label outside the class lists is never a tag
        np.uint8,
    )
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- 4.3 M&G merge


@pytest.mark.parametrize(
    "m, p, expected",
    [
        (13, 13, 13),
        (13, 11, 13),
        (13, 0, 13),
        (13, 8, 13),
        (13, I, 13),
        (13, 50, I),  # M&G thing wins
        (0, 13, I),
        (0, 8, 8),
        (0, 0, 0),
        (0, I, I),
        (0, 50, I),  # M&G background
        (I, 13, I),
        (I, 8, 8),
        (I, I, I),
        (I, 50, I),  # no consensus
        (5, 5, I),
        (5, 13, I),
        (40, 8, I),
        (40, I, I),  # any other M&G value
    ],
)
def test_merge_rule(m, p, expected):
    out = merge_with_mcg_and_grabcut(np.array([[m]], np.uint8), np.array([[p]], np.uint8), STUFF, THINGS)
    assert out.dtype == np.uint8 and out[0, 0] == expected


def test_merge_shape_mismatch():
    with pytest.raises(ValueError, match="M&G map is 2x2 but the label map is 2x3"):
        merge_with_mcg_and_grabcut(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), STUFF, THINGS)


# ---------------------------------------------------------------- 4.4 box prior


def test_box_prior_union_of_boxes_groups_included():
    label = np.array([[13, 13, 13, 13, 11], [13, 13, 13, 13, 11], [12, 0, 13, 13, 50]], np.uint8)
    boxes = [
        box(13, 0, 0, 1, 1),  # a car box
        box(13, 3, 1, 4, 2, is_grp=True),  # a car group box
        box(0, 0, 0, 4, 2, is_stuff=True),  # stuff boxes do not let things in
        box(11, 4, 0, 4, 0),  # person box covers only the first person pixel
    ]
    out = apply_bbox_prior(label, boxes, THINGS)
    expected = np.array(
        [[13, 13, I, I, 11], [13, 13, I, 13, I], [I, 0, I, 13, 50]], np.uint8
    )  # rider has no box at all; 50 is no thing class
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- 4.5 low-IoU fill


def test_low_iou_box_pixels_skip_top_row_and_left_column():
    label = np.full((5, 6), 0, np.uint8)
    out = check_low_iou(label, [box(13, 1, 1, 4, 3)], STUFF)
    expected = np.zeros((5, 6), np.uint8)
    expected[2:4, 2:5] = 13  # rows ymin+1..ymax, cols xmin+1..xmax
    np.testing.assert_array_equal(out, expected)


def test_low_iou_zero_width_and_height_boxes_do_nothing():
    label = np.zeros((4, 4), np.uint8)
    np.testing.assert_array_equal(check_low_iou(label, [box(13, 2, 0, 2, 3), box(11, 0, 1, 3, 1)], STUFF), label)


def test_low_iou_ratio_is_measured_on_the_input_and_threshold_is_strict():
    label = np.zeros((3, 5), np.uint8)
    label[1:3, 1:3] = 13  # box below has pixels rows 1..2, cols 1..4: 4 of its 8 are car
    out = check_low_iou(label, [box(13, 0, 0, 4, 2)], STUFF, ichk_thresh=0.5)
    np.testing.assert_array_equal(out, label)  # ratio 0.5 is not below 0.5
    out = check_low_iou(label, [box(13, 0, 0, 4, 2)], STUFF, ichk_thresh=0.51)
    expected = label.copy()
    expected[1:3, 1:5] = 13
    np.testing.assert_array_equal(out, expected)


def test_low_iou_largest_first_smaller_overwrites_and_reads_input():
    label = np.zeros((6, 6), np.uint8)
    big, small = box(13, 0, 0, 5, 5), box(11, 1, 1, 3, 3)
    out = check_low_iou(label, [small, big], STUFF)  # file order small first; visited big first
    expected = np.zeros((6, 6), np.uint8)
    expected[1:6, 1:6] = 13
    expected[2:4, 2:4] = 11
    np.testing.assert_array_equal(out, expected)


def test_low_iou_area_ties_keep_file_order():
    label = np.zeros((4, 4), np.uint8)
    first, second = box(11, 0, 0, 2, 2), box(13, 1, 1, 3, 3)  # equal areas, overlapping at [2,2]
    out = check_low_iou(label, [first, second], STUFF)
    assert out[2, 2] == 13 and out[1, 1] == 11 and out[3, 3] == 13
    out = check_low_iou(label, [second, first], STUFF)
    assert out[2, 2] == 11


def test_low_iou_leaves_other_things_unless_asked():
    label = np.array([[0, 0, 0, 0], [0, 12, I, 0], [0, 40, 8, 0], [0, 0, 0, 0]], np.uint8)
    b = box(13, 0, 0, 3, 3)
    out = check_low_iou(label, [b], STUFF)
    expected = label.copy()
    expected[1:4, 1:4] = 13
    expected[1, 1] = 12  # another thing class is kept
    expected[2, 1] = 40  # so is a label outside the class lists: it is neither stuff nor ignore
    np.testing.assert_array_equal(out, expected)
    out = check_low_iou(label, [b], STUFF, ichk_do_not_alter_existing_things=False)
    expected[1, 1] = expected[2, 1] = 13
    np.testing.assert_array_equal(out, expected)


def test_low_iou_skips_stuff_and_group_boxes():
    label = np.zeros((4, 4), np.uint8)
    boxes = [box(5, 0, 0, 3, 3, is_stuff=True), box(13, 0, 0, 3, 3, is_grp=True)]
    np.testing.assert_array_equal(check_low_iou(label, boxes, STUFF), label)


def test_low_iou_inverted_box_outside_canvas_does_nothing():
    label = np.zeros((4, 4), np.uint8)
    # a box wholly left of the canvas clips to xmin 0, xmax -3: no pixels, no wrap-around
    np.testing.assert_array_equal(check_low_iou(label, [box(13, 0, 0, -3, 3)], STUFF), label)


def test_fill_from_prior():
    label = np.array([[1, I, I], [13, I, 2]], np.uint8)
    prior = np.array([[0, 8, I], [0, 11, 0]], np.uint8)
    np.testing.assert_array_equal(fill_from_prior(label, prior), [[1, 8, I], [13, 11, 2]])
    with pytest.raises(ValueError, match="prior map is 1x3 but the label map is 2x3"):
        fill_from_prior(label, prior[:1])


def test_fill_from_prior_gives_a_shrunk_stuff_class_its_prior_pixels_back():
    prior = np.array([[5, 5, 5, 5], [5, 1, 1, 13], [0, 0, 0, 0]], np.uint8)
    label = np.array([[5, 2, 2, 2], [13, 1, 2, 2], [I, 0, 0, 2]], np.uint8)

    # after the fill, class 5 keeps 1 of its 5 prior pixels (0.2), class 1 keeps 1 of 2 (0.5), road 3 of 4
    # (0.75); a shrunk class comes back wherever no thing (13) holds the pixel; things are never restored
    def fill(ratio):
        return fill_from_prior(label, prior, I, keep_ratio=ratio, stuff_classes=STUFF, thing_classes=THINGS)

    np.testing.assert_array_equal(fill(0.6), [[5, 5, 5, 5], [13, 1, 1, 2], [0, 0, 0, 2]])
    np.testing.assert_array_equal(fill(0.4), [[5, 5, 5, 5], [13, 1, 2, 2], [0, 0, 0, 2]])
    np.testing.assert_array_equal(fill(0.1), [[5, 2, 2, 2], [13, 1, 2, 2], [0, 0, 0, 2]])
    np.testing.assert_array_equal(fill_from_prior(label, prior, I), fill(0.1))  # keep_ratio 0: the plain fill
