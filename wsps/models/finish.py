"""Per-image CPU work after the networks, as pure functions on arrays.

The prediction writers (`wsps.models.writers`) run these in a process pool, one image per call,
while the network goes on with the next batch: superpixels and their pooling, the dense CRF and
the panoptic post-processing are single-threaded CPU work that would otherwise keep a GPU (or the
network's CPU threads) waiting. Arrays come in as numpy (what crosses a process boundary cheaply)
and results go out as numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from wsps.data.transforms import superpixels
from wsps.models.cam import cam_labels, superpixel_pool
from wsps.models.crf import crf_labels, dense_crf
from wsps.models.postprocess import panoptic_from_outputs


def pool_and_mask(
    full: torch.Tensor,
    image: np.ndarray,
    allowed: torch.Tensor | None,
    superpixel_options: Mapping | None,
    segments: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """Stitched CAMs (C, H, W) averaged within the superpixels of `image` (H, W, 3, uint8) when
    `superpixel_options` (`wsps.data.transforms.superpixels`' keyword arguments) are given, then
    multiplied by the tag mask `allowed` (C, H, W booleans, `wsps.models.cam.allowed_classes`)
    when given; in float32 (bfloat16 sums over a superpixel's pixels would lose the small
    differences between classes). `segments` (H, W): those superpixels made already (by the
    loader's workers, `data.superpixels_in_loader`), used instead of computing them here."""
    full = full.float()
    if superpixel_options:
        if segments is None:
            segments = superpixels(image, **superpixel_options)
        full = superpixel_pool(full, torch.as_tensor(segments))
    return full if allowed is None else full * allowed.to(full.device)


def cam_label_map(full: torch.Tensor, image: np.ndarray, threshold: float, crf: Mapping | None) -> np.ndarray:
    """Label map (H, W, uint8) of one image's refined CAMs (C, H, W): the dense CRF's
    (`crf`: `wsps.models.crf.crf_labels`' keyword arguments; with `backend: gpu` on the CAMs'
    device), or the argmax thresholded at `threshold`."""
    if not crf:
        return cam_labels(full, threshold).cpu().numpy()
    if crf.get("backend") == "gpu":
        return crf_labels(full, image, threshold, **crf).cpu().numpy()
    return crf_labels(full.float().cpu().numpy(), image, threshold, **crf)


def cam_label_image(
    maps: np.ndarray,
    image: np.ndarray,
    allowed: np.ndarray,
    threshold: float,
    superpixels: Mapping | None,
    crf: Mapping | None,
    segments: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The classifier's CAM label map of one image: its stitched (and PAMR-refined) CAMs `maps`
    (C, H, W) pooled in superpixels (`segments`, H x W, when the loader made them), masked by
    the tags (`allowed`, C x H x W booleans), labelled.

    Returns:
        {"cam_label": (H, W) uint8 train ids, 255 unlabelled}
    """
    full = pool_and_mask(torch.from_numpy(maps), image, torch.from_numpy(allowed), superpixels, segments)
    return {"cam_label": cam_label_map(full, image, threshold, crf)}


def made_on_device(**outputs: np.ndarray) -> dict[str, np.ndarray]:
    """An image's results made in `predict_step` already (a CRF on the network's device): as they are."""
    return outputs


def segmentation_image(
    semantic: np.ndarray,
    center: np.ndarray,
    offset: np.ndarray,
    crf: Mapping | None,
    thing_classes: Sequence[int],
    panoptic: Mapping,
    probs: np.ndarray | None = None,
    rgb: np.ndarray | None = None,
    label: np.ndarray | None = None,
    score: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The segmenter's predictions of one image.

    Args:
        semantic: (H, W) argmax of the semantic logits, what the panoptic map is built from.
        center: (1, H, W) centre heatmap; offset: (2, H, W) (row, col) offsets in pixels.
        crf: `wsps.models.crf.dense_crf`'s keyword arguments, or None. With it, `probs` (C, H, W
            softmax, float32) and `rgb` (H, W, 3, uint8) are given and the raw labels and scores
            come from the CRF's marginals; without it, `label` (H, W) and `score` (H, W) are given.
        thing_classes, panoptic: `wsps.models.postprocess.panoptic_from_outputs`' classes and
            keyword arguments (center_threshold, nms_kernel, top_k, stuff_area, void_label, thing_area).

    Returns:
        {"sem": (H, W) uint8 raw labels, "score": (H, W) float32 winning score,
         "panoptic_sem": (H, W) uint8, "panoptic_inst": (H, W) int32}
    """
    if crf:
        marginals = torch.from_numpy(dense_crf(probs, rgb, **crf))
        best, winner = marginals.max(dim=0)
        score, label = best.numpy(), winner.to(torch.uint8).numpy()
    sem, inst = panoptic_from_outputs(
        torch.from_numpy(semantic).long(),
        torch.from_numpy(center),
        torch.from_numpy(offset),
        thing_classes,
        **panoptic,
    )
    return {
        "sem": np.asarray(label, np.uint8),
        "score": np.asarray(score, np.float32),
        "panoptic_sem": sem.numpy().astype(np.uint8),
        "panoptic_inst": inst.numpy().astype(np.int32),
    }
