"""One image through the reference's pipeline: load, clean (spec 4), instances (spec 5), save (spec 6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from wsps.gt.box_prior import apply_bbox_prior
from wsps.gt.boxes import Box, load_box_file
from wsps.gt.image_tags import check_image_level_tags
from wsps.gt.instances import TooManyInstances, ins_box_process
from wsps.gt.low_iou import check_low_iou
from wsps.gt.mandg_merge import merge_with_mcg_and_grabcut
from wsps.gt.options import GTOptions
from wsps.gt.prior_fill import fill_from_prior
from wsps.gt.score_thresh import apply_score_thresh
from wsps.gt.visualise import four_panel
from wsps.io import InputError, read_label_png, read_score_mat, write_label_png, write_png
from wsps.runner import ImageResult, process


@dataclass
class Inputs:
    """What the enabled stages need for one image (spec section 2)."""

    pred: np.ndarray
    scores: np.ndarray | None = None
    gt_label: np.ndarray | None = None
    mandg: np.ndarray | None = None
    prior: np.ndarray | None = None
    boxes: list[Box] = field(default_factory=list)


def clean_label(opts: GTOptions, inputs: Inputs) -> np.ndarray:
    """The five cleaning stages of spec section 4, each reading the previous one's output, plus
    our optional fill from earlier labels right after the score threshold."""
    label = inputs.pred
    if opts.run_score_thresh:
        label = apply_score_thresh(label, inputs.scores, opts.score_thresh, opts.ignore_label)
    if opts.run_fill_from_prior:
        label = fill_from_prior(
            label, inputs.prior, opts.ignore_label, opts.prior_keep_ratio, opts.stuff_classes, opts.thing_classes
        )
    if opts.run_check_image_level_tags:
        label = check_image_level_tags(label, inputs.gt_label, opts.schk_crop_size, opts.ignore_label)
    if opts.run_merge_with_mcg_and_grabcut:
        label = merge_with_mcg_and_grabcut(
            inputs.mandg, label, opts.stuff_classes, opts.thing_classes, opts.ignore_label
        )
    if opts.run_apply_bbox_prior:
        label = apply_bbox_prior(label, inputs.boxes, opts.thing_classes, opts.ignore_label)
    if opts.run_check_low_iou:
        label = check_low_iou(
            label,
            inputs.boxes,
            opts.stuff_classes,
            opts.ichk_thresh,
            opts.ichk_do_not_alter_existing_things,
            opts.ignore_label,
        )
    return label


def _check_size(array: np.ndarray, path: Path, canvas_size: Sequence[int]) -> np.ndarray:
    if tuple(array.shape) != tuple(canvas_size):
        raise InputError(
            path, f"map is {array.shape[0]}x{array.shape[1]} but canvas_size is {canvas_size[0]}x{canvas_size[1]}"
        )
    return array


def load_inputs(opts: GTOptions, image_id: str) -> Inputs:
    """Read the files the enabled stages need, checking every map against the canvas."""
    path = opts.pred_path(image_id)
    inputs = Inputs(pred=_check_size(read_label_png(path), path, opts.canvas_size))
    if opts.run_score_thresh:
        path = opts.score_path(image_id)
        inputs.scores = _check_size(read_score_mat(path), path, opts.canvas_size)
    if opts.run_fill_from_prior:
        path = opts.prior_path(image_id)
        inputs.prior = _check_size(read_label_png(path), path, opts.canvas_size)
    if opts.run_check_image_level_tags:
        path = opts.gt_label_path(image_id)
        inputs.gt_label = _check_size(read_label_png(path), path, opts.canvas_size)
    if opts.run_merge_with_mcg_and_grabcut:
        path = opts.mandg_path(image_id)
        inputs.mandg = _check_size(read_label_png(path), path, opts.canvas_size)
    if opts.needs_boxes:
        inputs.boxes = load_box_file(opts.boxes_path(image_id), opts.class_names, opts.canvas_size)
    return inputs


def process_image(opts: GTOptions, image_id: str) -> ImageResult:
    """Clean one image and save its maps; never raises, so one bad image stops nothing else."""
    return process(
        image_id, opts.output_paths(image_id), opts.force_overwrite, partial(_clean_and_save, opts, image_id)
    )


def _clean_and_save(opts: GTOptions, image_id: str) -> list[str]:
    inputs = load_inputs(opts, image_id)
    sem = clean_label(opts, inputs)
    ins, warnings = None, []
    if opts.run_ins_box_process and (opts.save_ins or opts.visualise_results):
        try:
            ins, _, empty_ids = ins_box_process(sem, inputs.boxes, opts.class_names, opts.ignore_label)
        except TooManyInstances as err:
            raise InputError(opts.boxes_path(image_id), str(err)) from None
        if empty_ids:
            warnings.append(f"{image_id}: instance ids {empty_ids} have no pixels (sanity not preserved)")
    if opts.save_sem:
        write_label_png(opts.sem_save_path(image_id), sem)
    if opts.save_ins:
        write_label_png(opts.ins_save_path(image_id), ins)
    if opts.visualise_results:
        write_png(opts.vis_save_path(image_id), four_panel(inputs.pred, inputs.scores, sem, ins))
    return warnings
