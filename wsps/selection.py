"""The values the weak loop tunes at run time, chosen without pixel labels.

Two thresholds are tuned while the method runs: the CAM threshold (which CAM pixels become stuff
cues) and generate_gt's score threshold (which predicted pixels the next round keeps). Both are
chosen by one F0.5 sweep of precision against coverage (`wsps.eval.semantic.best_threshold`).
`selection` says what the precision is measured against:

- `tags_and_boxes` (the default): the weak annotations themselves, on the training images the
  threshold is applied to. A labelled pixel counts as right when the annotations allow it: every
  fixed crop holding it is tagged with its class and, for a thing class, it lies inside a box of
  that class (generate_gt's own image-tag check and box prior). Coverage is the share of all pixels
  labelled so. No pixel label is read.
- `val_labels`: the true labels of the validation split (pixel labels; the weak setting has none).

docs/method.md argues for the choice and docs/results.md gives its cost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
import torch

from wsps.eval.semantic import SCORE_THRESHOLDS, best_threshold, sweep_histogram
from wsps.gt.box_prior import apply_bbox_prior
from wsps.gt.boxes import Box
from wsps.gt.image_tags import check_image_level_tags
from wsps.gt.options import GTOptions
from wsps.gt.pipeline import load_inputs
from wsps.io import ConfigError, InputError
from wsps.models.cam import allowed_classes, cam_label_counts, precision_coverage

log = logging.getLogger(__name__)

SELECTIONS = ("tags_and_boxes", "val_labels")
CAM_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.61, 0.05), 2))  # above 0.6 most stuff goes unlabelled
HISTOGRAM_BINS = 100


def check_selection(selection: str) -> str:
    if selection not in SELECTIONS:
        raise ConfigError(f"selection={selection}: choose one of {', '.join(SELECTIONS)}")
    return selection


def annotation_consistent(
    label: np.ndarray,
    tag_label: np.ndarray | None,
    boxes: Sequence[Box] | None,
    crop_size: Sequence[int],
    thing_classes: Sequence[int],
    ignore_label: int = 255,
) -> np.ndarray:
    """(H, W) booleans: labelled pixels that the image-tag check (tags from `tag_label` on the crop
    grid `crop_size`) and the box prior would both keep. A check whose annotation is None is skipped."""
    kept = label
    if tag_label is not None:
        kept = check_image_level_tags(kept, tag_label, crop_size, ignore_label)
    if boxes is not None:
        kept = apply_bbox_prior(kept, boxes, thing_classes, ignore_label)
    return (kept == label) & (label != ignore_label)


def score_histograms(score: np.ndarray, labelled: np.ndarray, right: np.ndarray, bins: int = HISTOGRAM_BINS):
    """Histograms over [0, 1] of the scores of the labelled pixels and of the right ones."""
    index = np.clip((score * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(index[labelled], minlength=bins), np.bincount(index[right], minlength=bins)


def score_threshold_from_annotations(opts: GTOptions, ids: Sequence[str]) -> dict[str, float]:
    """generate_gt's `score_thresh` for the predictions `opts` reads, from the tags and boxes of the
    images `ids`: the F0.5 sweep over the winning scores, a pixel right where the annotations
    allow its label (the checks `opts` runs). An image whose inputs cannot be read is left out
    (generate_gt reports it)."""
    total = right = np.zeros(HISTOGRAM_BINS, np.int64)
    reading = dataclasses.replace(opts, run_fill_from_prior=False, run_merge_with_mcg_and_grabcut=False)
    for image_id in ids:
        try:
            inputs = load_inputs(reading, image_id)  # the sweep needs no prior labels and no M&G map
        except InputError as err:
            log.warning("score threshold: %s left out: %s", image_id, err)
            continue
        ok = annotation_consistent(
            inputs.pred,
            inputs.gt_label if opts.run_check_image_level_tags else None,
            inputs.boxes if opts.run_apply_bbox_prior else None,
            opts.schk_crop_size,
            opts.thing_classes,
            opts.ignore_label,
        )
        t, r = score_histograms(inputs.scores, inputs.pred != opts.ignore_label, ok)
        total, right = total + t, right + r
    threshold, precision, coverage = sweep_histogram(total, right, SCORE_THRESHOLDS)
    return {"score_threshold": threshold, "score_precision": precision, "score_coverage": coverage}


def _to_device(batch: dict, device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


@torch.no_grad()
def cam_threshold_from_tags(
    model, dataloader, max_images: int | None, thresholds=CAM_THRESHOLDS, ignore_label: int = 255
) -> tuple[float, dict[str, float]]:
    """The CAM threshold from the crop tags of (the first `max_images` of) `dataloader`'s images.

    The labels are made without the tag mask that keeps every class inside the crops tagged with
    it: how far the unmasked labels spill into crops whose tags lack their class measures how well
    the CAMs at that threshold follow the objects. Precision is the share of labelled pixels the
    tags allow, coverage the share of all pixels labelled so.
    """
    model.eval()
    totals = {t: np.zeros(3) for t in thresholds}  # labelled, allowed, pixels
    seen = 0
    for batch in dataloader:
        batch = _to_device(batch, model.device)
        maps = model.stitched_cams(batch, masked=False)
        for full, image, tags in zip(maps, batch["image"], batch["tags"]):
            allowed = allowed_classes(tags, model.crops, model.hparams.canvas_size).cpu()
            for t in thresholds:
                label = model.cam_label_map(full, image, t).cpu().long()
                labelled = label != ignore_label
                ok = allowed.gather(0, label.clamp(max=allowed.shape[0] - 1)[None])[0] & labelled
                totals[t] += (float(labelled.sum()), float(ok.sum()), float(label.numel()))
            seen += 1
            if max_images is not None and seen >= max_images:
                break
        if max_images is not None and seen >= max_images:
            break
    scores = {t: (a / n if n else 0.0, a / p if p else 0.0) for t, (n, a, p) in totals.items()}
    best = best_threshold(scores)
    return float(best), {"precision_tags": scores[best][0], "coverage_tags": scores[best][1], "images": seen}


@torch.no_grad()
def cam_threshold_from_val_labels(
    model, dataloader, stuff_classes, thresholds=CAM_THRESHOLDS
) -> tuple[float, dict[str, float]]:
    """The threshold with the best F0.5 of precision and coverage of the CAM labels of `stuff_classes`
    against the true labels of `dataloader`'s images (pixel labels)."""
    model.eval()
    totals = {t: None for t in thresholds}
    for batch in dataloader:
        batch = _to_device(batch, model.device)
        for full, image, truth in zip(model.stitched_cams(batch), batch["image"], batch["label"]):
            for t in thresholds:
                counts = cam_label_counts(model.cam_label_map(full, image, t).to(truth.device), truth, stuff_classes)
                totals[t] = counts if totals[t] is None else {k: totals[t][k] + v for k, v in counts.items()}
    scores = {t: precision_coverage(c) for t, c in totals.items()}
    best = best_threshold({t: (s["precision_all"], s["coverage_all"]) for t, s in scores.items()})
    return float(best), scores[best]
