"""Label-free selection: consistency with the crop tags and boxes, and the score threshold it picks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.io

from tests.conftest import box, make_gt_dataset
from tests.test_config import _compose
from wsps.gt.options import GTOptions
from wsps.io import ConfigError, read_label_png, write_label_png
from wsps.selection import annotation_consistent, check_selection, score_threshold_from_annotations

ID = "c_000000_000001"


def test_consistent_pixels_are_those_the_tag_check_and_the_box_prior_keep():
    tags = np.zeros((40, 80), np.uint8)  # road everywhere, a car in the left half only
    tags[5:15, 5:15] = 13
    label = tags.copy()
    label[30:35, 60:70] = 13  # a car in the right crops, which lack the tag: wrong by the tags
    label[16:18, 20:25] = 13  # a car in tagged crops but outside every car box: wrong by the boxes
    label[0:2, 0:3] = 255  # unlabelled: never consistent
    ok = annotation_consistent(label, tags, [box(13, 5, 5, 14, 14)], (20, 40), thing_classes=[11, 13])
    expected = label != 255
    expected[30:35, 60:70] = False
    expected[16:18, 20:25] = False
    assert np.array_equal(ok, expected)
    without_boxes = annotation_consistent(label, tags, None, (20, 40), thing_classes=[11, 13])
    assert without_boxes[16:18, 20:25].all() and not without_boxes[30:35, 60:70].any()
    nothing = annotation_consistent(label, None, None, (20, 40), thing_classes=[11, 13])
    assert np.array_equal(nothing, label != 255)


def _options(tmp_path) -> GTOptions:
    base = make_gt_dataset(tmp_path, [ID])
    return GTOptions.from_mapping(_compose(overrides=[f"{k}={v}" for k, v in base.items()] + ["preset=later_rounds"]))


def test_score_threshold_drops_the_scores_of_the_pixels_the_annotations_refuse(tmp_path):
    opts = _options(tmp_path)
    truth = read_label_png(opts.gt_label_path(ID))
    pred, scores = truth.copy(), np.full(truth.shape, 0.9, np.float32)
    pred[0:5, 0:10], scores[0:5, 0:10] = 8, 0.3  # vegetation: no crop is tagged with it
    pred[44:48, 40:50], scores[44:48, 40:50] = 13, 0.3  # a car outside every car box
    scores[0:5, 50:60] = 0.5  # right, less sure: kept up to 0.5
    pred[47, 95] = 255  # unlabelled: counts nowhere
    write_label_png(opts.pred_path(ID), pred)
    scipy.io.savemat(opts.score_path(ID), {"feat": scores})
    chosen = score_threshold_from_annotations(opts, [ID])
    labelled = int((pred != 255).sum())
    assert chosen["score_threshold"] == 0.35  # the first that drops 0.3 and keeps 0.5 (ties: the first)
    assert chosen["score_precision"] == 1.0
    assert chosen["score_coverage"] == pytest.approx((labelled - 90) / labelled)
    # a sure car outside its box: kept, and wrong by the box prior alone (its crops have cars)
    scores[44:48, 40:50] = 0.9
    scipy.io.savemat(opts.score_path(ID), {"feat": scores})
    with_prior = score_threshold_from_annotations(opts, [ID])
    assert with_prior["score_precision"] == pytest.approx((labelled - 90) / (labelled - 50))
    no_prior = score_threshold_from_annotations(dataclasses.replace(opts, run_apply_bbox_prior=False), [ID])
    assert no_prior["score_precision"] == 1.0 and no_prior["score_coverage"] == pytest.approx(
        (labelled - 50) / labelled
    )


def test_an_unreadable_image_is_left_out_of_the_sweep(tmp_path):
    opts = _options(tmp_path)
    chosen = score_threshold_from_annotations(opts, [ID, "c_000000_000404"])
    assert chosen == score_threshold_from_annotations(opts, [ID])


def test_unknown_selection_is_refused():
    assert check_selection("tags_and_boxes") == "tags_and_boxes"
    with pytest.raises(ConfigError, match="selection=labels: choose one of tags_and_boxes, val_labels"):
        check_selection("labels")
