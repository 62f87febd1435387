"""An MCG substitute: hierarchical segment proposals from scikit-image, the best one per box.

MCG (multiscale combinatorial grouping) is MATLAB + C++. Here, as in selective search:
Felzenszwalb's graph segmentation of the box's window at several scales, each merged greedily
into a hierarchy (adjacent regions, most similar first: colour histograms in Lab, size and
fill), every region of every hierarchy being a candidate. The box takes the candidate whose
mask overlaps the box rectangle best (intersection over union), an object-like region that
fills the box without spilling out of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

from wsps.cues.window import box_window
from wsps.gt.boxes import Box


@dataclass(frozen=True)
class ProposalParams:
    """Felzenszwalb `scales` (its `scale`: larger, bigger segments), `sigma` and `min_size`;
    colour histogram `bins` per channel; the window's `margin` (share of the box size, at
    least `min_margin` px) and working size `max_side`."""

    scales: tuple[float, ...] = (100.0, 300.0)
    sigma: float = 0.8
    min_size: int = 30
    bins: int = 25
    margin: float = 0.3
    min_margin: int = 8
    max_side: int = 200


@dataclass
class _Region:
    size: float
    inside: float  # pixels inside the box
    bbox: np.ndarray  # x0, y0, x1, y1
    hist: np.ndarray  # colour histogram, sums to 1
    members: list[int]  # initial segments


def _colour_features(image: np.ndarray, bins: int) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.int64)
    q = np.minimum(lab * bins // 256, bins - 1) + np.arange(3) * bins
    return q  # per pixel, the three histogram bins it falls in


def _initial_regions(seg: np.ndarray, features: np.ndarray, box_mask: np.ndarray, bins: int) -> dict[int, _Region]:
    n = int(seg.max()) + 1
    flat = seg.ravel()
    size = np.bincount(flat, minlength=n).astype(np.float64)
    inside = np.bincount(flat, weights=box_mask.ravel(), minlength=n)
    rows, cols = np.indices(seg.shape)
    x0, y0 = np.full(n, np.inf), np.full(n, np.inf)
    x1, y1 = np.full(n, -np.inf), np.full(n, -np.inf)
    np.minimum.at(x0, flat, cols.ravel())
    np.minimum.at(y0, flat, rows.ravel())
    np.maximum.at(x1, flat, cols.ravel())
    np.maximum.at(y1, flat, rows.ravel())
    hist = np.zeros((n, 3 * bins))
    for channel in range(3):
        np.add.at(hist, (flat, features[:, channel]), 1)
    hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1)
    return {
        k: _Region(size[k], inside[k], np.array([x0[k], y0[k], x1[k], y1[k]]), hist[k], [k])
        for k in range(n)
        if size[k] > 0
    }


def _adjacent_pairs(seg: np.ndarray) -> np.ndarray:
    pairs = np.concatenate(
        [
            np.stack([seg[:, :-1].ravel(), seg[:, 1:].ravel()], axis=1),
            np.stack([seg[:-1].ravel(), seg[1:].ravel()], axis=1),
        ]
    )
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    return np.unique(pairs, axis=0)


def _union_bbox(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _similarity(a: _Region, b: _Region, image_area: float) -> float:
    """Selective search's colour + size + fill similarity, each in [0, 1]."""
    colour = np.minimum(a.hist, b.hist).sum()
    size = 1 - (a.size + b.size) / image_area
    bbox = _union_bbox(a.bbox, b.bbox)
    fill = 1 - ((bbox[2] - bbox[0] + 1) * (bbox[3] - bbox[1] + 1) - a.size - b.size) / image_area
    return colour + size + fill


def hierarchy_best(seg: np.ndarray, features: np.ndarray, box_mask: np.ndarray, bins: int) -> tuple[float, list[int]]:
    """Merge the segments greedily into a hierarchy; return the best region's box IoU and members."""
    regions = _initial_regions(seg, features, box_mask, bins)
    box_area, image_area = float(box_mask.sum()), float(box_mask.size)

    def iou(r: _Region) -> float:
        return r.inside / (r.size + box_area - r.inside)

    best = max(regions.values(), key=iou)
    best_score, best_members = iou(best), best.members
    neighbours: dict[int, set[int]] = {k: set() for k in regions}
    for a, b in _adjacent_pairs(seg):
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))
    heap = [
        (-_similarity(regions[a], regions[b], image_area), a, b) for a in neighbours for b in neighbours[a] if a < b
    ]
    heapq.heapify(heap)
    next_id = max(regions) + 1
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in regions or b not in regions:
            continue  # one side was merged since
        ra, rb = regions.pop(a), regions.pop(b)
        merged = _Region(
            ra.size + rb.size,
            ra.inside + rb.inside,
            _union_bbox(ra.bbox, rb.bbox),
            (ra.hist * ra.size + rb.hist * rb.size) / (ra.size + rb.size),
            ra.members + rb.members,
        )
        score = iou(merged)
        if score > best_score:
            best_score, best_members = score, merged.members
        k, next_id = next_id, next_id + 1
        regions[k] = merged
        neighbours[k] = (neighbours.pop(a) | neighbours.pop(b)) - {a, b}
        for c in neighbours[k]:
            neighbours[c] -= {a, b}
            neighbours[c].add(k)
            heapq.heappush(heap, (-_similarity(merged, regions[c], image_area), k, c))
    return best_score, best_members


def best_proposal(image: np.ndarray, box: Box, params: ProposalParams) -> tuple[slice, slice, np.ndarray]:
    """The proposal that fits the box best: (rows, cols, mask) of its window in the image."""
    window = box_window(box, image.shape, params.margin, params.min_margin, params.max_side)
    work = window.shrink(image)
    box_mask = window.box_mask()
    features = _colour_features(work, params.bins)
    best_score, best_mask = -1.0, box_mask
    for scale in params.scales:
        seg = felzenszwalb(work, scale=scale, sigma=params.sigma, min_size=params.min_size, channel_axis=-1)
        score, members = hierarchy_best(seg, features, box_mask, params.bins)
        if score > best_score:
            best_score, best_mask = score, np.isin(seg, members)
    return window.rows, window.cols, window.expand(best_mask)


def proposal_cue(image: np.ndarray, boxes: Sequence[Box], **params) -> list[tuple[slice, slice, np.ndarray]]:
    """The thing cue `proposals` (conf/thing_cues/proposals.yaml): the best hierarchical proposal
    in each box, as (rows, cols, mask) of its window; `params` are `ProposalParams`' fields."""
    if "scales" in params:
        params = {**params, "scales": tuple(float(s) for s in params["scales"])}
    settings = ProposalParams(**params)
    return [best_proposal(image, box, settings) for box in boxes]
