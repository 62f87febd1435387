"""Where panoptic quality of things is lost: oracle panoptic maps and a per-segment PQ breakdown.

Pure functions on arrays. An oracle replaces one part of the Panoptic-DeepLab prediction with
the truth, so that the PQ of things it reaches shows what that part costs:

- `true_semantics`: the true classes, grouped by the predicted centres and offsets;
- `true_grouping`: the predicted classes, their thing pixels grouped as the true instances;
- `true_centres`: the predicted classes and offsets, grouped around the true centres.

`match_things` pairs true and predicted thing segments as PQ does, and `breakdown`
sums those pairs into PQ, RQ and recall per class and per object-size bin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage

from wsps.data.targets import instance_centres
from wsps.models.postprocess import panoptic_from_centers, panoptic_from_outputs

SIZE_BINS = (0, 64, 256, 1024, np.inf)


def true_semantics(
    true_sem: np.ndarray, center: torch.Tensor, offset: torch.Tensor, thing_classes: Sequence[int], **post
) -> tuple[torch.Tensor, torch.Tensor]:
    """Oracle (b): the panoptic map of the true classes (H, W) with the predicted centre heatmap
    (1, H, W) and offsets (2, H, W); `post`: `panoptic_from_outputs`' thresholds."""
    return panoptic_from_outputs(torch.as_tensor(true_sem).long(), center, offset, thing_classes, **post)


def true_grouping(
    sem: np.ndarray, true_inst: np.ndarray, thing_classes: Sequence[int], ignore_label: int = 255
) -> tuple[np.ndarray, np.ndarray]:
    """Oracle (c): the predicted classes (H, W); predicted thing pixels on a true instance join
    that instance, the others form one instance per connected component. Each instance takes
    the majority class of its pixels. Returns the panoptic (sem, inst)."""
    is_thing = np.isin(sem, thing_classes)
    inst = np.zeros(sem.shape, np.int64)
    on_true = is_thing & (true_inst > 0)
    _, inst[on_true] = np.unique(true_inst[on_true], return_inverse=True)
    inst[on_true] += 1
    components, _ = ndimage.label(is_thing & ~on_true)
    inst[components > 0] = components[components > 0] + (inst.max() if on_true.any() else 0)
    out = np.where(is_thing, ignore_label, sem).astype(sem.dtype)
    for k in np.unique(inst[inst > 0]):
        mask = inst == k
        out[mask] = np.bincount(sem[mask]).argmax()
    return out, inst.astype(np.int32)


def true_centres(
    sem: torch.Tensor,
    offset: torch.Tensor,
    true_inst: np.ndarray,
    thing_classes: Sequence[int],
    ignore_label: int = 255,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Oracle (d): the predicted classes (H, W) and offsets (2, H, W), thing pixels grouped to the
    nearest true instance centre (centre of mass) their offset points to; every stuff region kept."""
    centres = torch.tensor(list(instance_centres(np.asarray(true_inst)).values()), dtype=torch.float32)
    return panoptic_from_centers(
        sem, centres.reshape(-1, 2), offset.float(), thing_classes, stuff_area=0, void_label=ignore_label
    )


def _segments(sem: np.ndarray, inst: np.ndarray, thing_classes: Sequence[int]) -> dict[tuple[int, int], np.ndarray]:
    """Thing segments as {(class, instance id): flat pixel indices}."""
    keys = np.where(np.isin(sem, thing_classes) & (inst > 0), sem.astype(np.int64) * 100_000 + inst, -1).ravel()
    order = np.argsort(keys, kind="stable")
    values, starts = np.unique(keys[order], return_index=True)
    parts = np.split(order, starts[1:])
    return {(int(v // 100_000), int(v % 100_000)): p for v, p in zip(values, parts) if v >= 0}


def match_things(
    pred_sem: np.ndarray,
    pred_inst: np.ndarray,
    true_sem: np.ndarray,
    true_inst: np.ndarray,
    thing_classes: Sequence[int],
    ignore_label: int = 255,
) -> list[dict]:
    """PQ's matching of one image's thing segments, as cityscapesscripts' (COCO's) PQ code: one
    record per true segment (`kind` tp or fn) and per unmatched predicted segment (`kind` fp),
    each with its `class`, `area` (the true segment's for tp and fn) and `iou` (0 for fn and fp).
    A pair matches with the same class and IoU > 0.5, void pixels left out of the union; a
    predicted segment more than half on void or on a crowd of its class (thing pixels without a
    true instance) is no false positive."""
    true_sem, true_inst = np.asarray(true_sem), np.asarray(true_inst)
    true = _segments(true_sem, true_inst, thing_classes)
    pred = _segments(np.asarray(pred_sem), np.asarray(pred_inst), thing_classes)
    void = (true_sem == ignore_label).ravel()
    crowd_class = np.where(np.isin(true_sem, thing_classes) & (true_inst <= 0), true_sem, -1).ravel()
    true_of = np.full(true_sem.size, -1, np.int64)
    true_keys = list(true)
    for index, pixels in enumerate(true.values()):
        true_of[pixels] = index
    records, matched = [], set()
    for (cls, _), pixels in pred.items():
        void_px = int(void[pixels].sum())
        hits = true_of[pixels]
        best = None
        for index, inter in zip(*np.unique(hits[hits >= 0], return_counts=True)):
            if true_keys[index][0] == cls:
                iou = inter / (len(pixels) + len(true[true_keys[index]]) - inter - void_px)
                if iou > 0.5:
                    best = (int(index), float(iou))
        if best is not None:
            matched.add(best[0])
            records.append({"kind": "tp", "class": cls, "area": len(true[true_keys[best[0]]]), "iou": best[1]})
        elif void_px + int((crowd_class[pixels] == cls).sum()) <= len(pixels) / 2:
            records.append({"kind": "fp", "class": cls, "area": len(pixels), "iou": 0.0})
    for index, key in enumerate(true_keys):
        if index not in matched:
            records.append({"kind": "fn", "class": key[0], "area": len(true[key]), "iou": 0.0})
    return records


def _scores(records: list[dict]) -> dict[str, float]:
    tp = [r["iou"] for r in records if r["kind"] == "tp"]
    fp = sum(r["kind"] == "fp" for r in records)
    fn = sum(r["kind"] == "fn" for r in records)
    denominator = len(tp) + 0.5 * fp + 0.5 * fn
    return {
        "PQ": sum(tp) / denominator if denominator else float("nan"),
        "RQ": len(tp) / denominator if denominator else float("nan"),
        "SQ": float(np.mean(tp)) if tp else float("nan"),
        "recall": len(tp) / (len(tp) + fn) if tp or fn else float("nan"),
        "true": len(tp) + fn,
        "predicted": len(tp) + fp,
    }


def breakdown(
    records: list[dict], class_names: Sequence[str], bins: Sequence[float] = SIZE_BINS
) -> dict[str, dict[str, float]]:
    """PQ, RQ, SQ, recall and segment counts of matched records: `all`, per class name, and per
    size bin `area a-b` (a true segment's area; an unmatched prediction's own area). `all` is
    the mean over classes that have a true or predicted segment, as PQ_th."""
    out = {}
    per_class = {}
    for cls in sorted({r["class"] for r in records}):
        per_class[class_names[cls]] = _scores([r for r in records if r["class"] == cls])
    out["all"] = {
        key: float(np.nanmean([s[key] for s in per_class.values()])) if per_class else float("nan")
        for key in ("PQ", "RQ", "SQ", "recall")
    }
    out.update(per_class)
    for low, high in zip(bins[:-1], bins[1:]):
        label = f"area {int(low)}-{'' if np.isinf(high) else int(high)}"
        out[label] = _scores([r for r in records if low <= r["area"] < high])
    return out
