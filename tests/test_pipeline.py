"""One image through the pipeline: stage switches, an empty box file, the four-panel view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_gt_dataset
from tests.test_config import _compose
from wsps.gt.boxes import write_boxes_mat
from wsps.gt.options import ConfigError, GTOptions
from wsps.gt.pipeline import clean_label, load_inputs, process_image
from wsps.io import read_label_png, read_score_mat, write_label_png
from wsps.labels import PALETTE

ID = "c_000000_000001"


def _options(tmp_path, *overrides):
    base = make_gt_dataset(tmp_path, [ID])
    return GTOptions.from_mapping(_compose(overrides=[f"{k}={v}" for k, v in base.items()] + list(overrides)))


def test_empty_box_file_removes_every_thing(tmp_path):
    opts = _options(tmp_path, "run_score_thresh=false")
    write_boxes_mat(opts.boxes_path(ID), [])
    result = process_image(opts, ID)
    assert result.status == "done" and result.warnings == []
    sem = read_label_png(opts.sem_save_path(ID))
    assert not np.isin(sem, opts.thing_classes).any()  # box prior: no box, no thing
    assert np.isin(sem, [0, 2, 10]).mean() > 0.5
    ins = read_label_png(opts.ins_save_path(ID))
    assert set(np.unique(ins).tolist()) <= {0, 255}
    np.testing.assert_array_equal(ins == 255, sem == 255)


def test_all_stages_off_copies_the_input(tmp_path):
    switches = [
        "run_score_thresh",
        "run_check_image_level_tags",
        "run_merge_with_mcg_and_grabcut",
        "run_apply_bbox_prior",
        "run_check_low_iou",
        "run_ins_box_process",
    ]
    opts = _options(tmp_path, *(f"{s}=false" for s in switches))
    inputs = load_inputs(opts, ID)
    assert inputs.scores is None and inputs.gt_label is None and inputs.mandg is None and inputs.boxes == []
    np.testing.assert_array_equal(clean_label(opts, inputs), inputs.pred)
    assert process_image(opts, ID).status == "done"
    assert not opts.ins_save_path(ID).exists()


def test_each_stage_reads_only_its_inputs(tmp_path):
    opts = _options(tmp_path, "run_score_thresh=false", "run_merge_with_mcg_and_grabcut=false")
    opts.score_path(ID).unlink()
    opts.mandg_path(ID).unlink()
    assert process_image(opts, ID).status == "done"  # the missing files belong to stages that are off


def test_sanity_warning_names_image_and_ids(tmp_path):
    opts = _options(tmp_path, "run_check_low_iou=false")
    result = process_image(opts, ID)
    # the dataset's third box (person at x 80..90) holds no person pixels once M&G background
    # there has dropped the noisy ones (and the low-IoU fill is off)
    assert result.warnings == [f"{ID}: instance ids [6] have no pixels (sanity not preserved)"]


def test_four_panel_view(tmp_path):
    opts = _options(tmp_path, "visualise_results=true", "force_overwrite=false")
    assert process_image(opts, ID).status == "done"
    view = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(opts.vis_save_path(ID)))
    assert view.shape == (48, 96, 3)  # 2x2 panels of the 48x96 canvas, subsampled by 2
    pred = read_label_png(opts.pred_path(ID))
    np.testing.assert_array_equal(view[:24, :48], PALETTE[pred[::2, ::2]])
    scores = view[:24, 48:, 0]
    assert scores.min() >= 200  # scores in [0.8, 1) shown as grey levels
    sem = read_label_png(opts.sem_save_path(ID))
    np.testing.assert_array_equal(view[24:, :48], PALETTE[sem[::2, ::2]])
    assert process_image(opts, ID).status == "skipped"  # every output, the view included, exists
    Path(opts.vis_save_path(ID)).unlink()
    assert process_image(opts, ID).status == "done"


def test_fill_from_prior_takes_dropped_pixels_from_earlier_labels(tmp_path):
    stages_off = [
        "run_check_image_level_tags=false",
        "run_merge_with_mcg_and_grabcut=false",
        "run_apply_bbox_prior=false",
        "run_check_low_iou=false",
        "run_ins_box_process=false",
    ]
    opts = _options(tmp_path, "score_thresh=0.9", "run_fill_from_prior=true", "prior_dir=earlier", *stages_off)
    pred, scores = read_label_png(opts.pred_path(ID)), read_score_mat(opts.score_path(ID))
    prior = np.full(pred.shape, 8, np.uint8)  # vegetation everywhere
    prior[:, :10] = 255
    write_label_png(opts.prior_path(ID), prior)
    assert process_image(opts, ID).status == "done"
    sem = read_label_png(opts.sem_save_path(ID))
    kept = scores >= np.float32(0.9)
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_array_equal(sem[kept], pred[kept])
    np.testing.assert_array_equal(sem[~kept], prior[~kept])  # vegetation, or 255 where the prior has none
    assert (sem == 255).sum() == (~kept[:, :10]).sum()


def test_fill_from_prior_needs_its_folder_and_files(tmp_path):
    with pytest.raises(ConfigError, match="run_fill_from_prior=true needs prior_dir"):
        _options(tmp_path, "run_fill_from_prior=true")
    opts = _options(tmp_path, "run_fill_from_prior=true", "prior_dir=earlier")
    result = process_image(opts, ID)
    assert result.status == "failed" and str(opts.prior_path(ID)) in result.message
    assert not opts.sem_save_path(ID).exists()
