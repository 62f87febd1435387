"""Panoptic-DeepLab post-processing (pure torch), as detectron2's: centres by threshold and
max-pool NMS, every thing pixel grouped to the nearest centre its offset points to, instance
class by majority vote, small stuff regions to void, and (ours) instances smaller than
`thing_area` to void: at a coarse output stride a noisy centre heatmap splits an object into
fragments, and a fragment scores as a false positive. Instances never overlap: each pixel joins
exactly one centre."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def find_instance_centers(
    center: torch.Tensor, threshold: float = 0.1, nms_kernel: int = 7, top_k: int | None = 200
) -> torch.Tensor:
    """(K, 2) row, col of the local maxima of a (1, H, W) heatmap above `threshold`, strongest first."""
    heat = torch.where(center > threshold, center, torch.full_like(center, -1.0))
    pooled = F.max_pool2d(heat[None], kernel_size=nms_kernel, stride=1, padding=nms_kernel // 2)[0]
    heat = torch.where(heat == pooled, heat, torch.full_like(heat, -1.0))[0]
    points = torch.nonzero(heat > 0)
    if top_k is not None and len(points) > top_k:
        scores = heat[points[:, 0], points[:, 1]]
        points = points[scores.topk(top_k).indices]
    else:
        points = points[heat[points[:, 0], points[:, 1]].argsort(descending=True)]
    return points


def group_pixels(centers: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """For every pixel in `mask`, 1 + the index of the centre nearest to where its offset
    points; 0 elsewhere. Distances are taken in chunks of pixels to bound memory."""
    rows, cols = torch.nonzero(mask, as_tuple=True)
    target = torch.stack([rows + offset[0][rows, cols], cols + offset[1][rows, cols]], dim=1)  # (P, 2)
    centers = centers.to(target.dtype)
    nearest = (
        torch.cat([torch.cdist(part, centers).argmin(dim=1) for part in target.split(chunk)]) if len(target) else rows
    )
    groups = torch.zeros(mask.shape, dtype=torch.long, device=mask.device)
    groups[rows, cols] = nearest + 1
    return groups


def panoptic_from_outputs(
    sem: torch.Tensor,
    center: torch.Tensor,
    offset: torch.Tensor,
    thing_classes: Sequence[int],
    center_threshold: float = 0.1,
    nms_kernel: int = 7,
    top_k: int | None = 200,
    stuff_area: int = 64,
    void_label: int = 255,
    thing_area: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A panoptic map as (`sem`, `inst`): class per pixel (`void_label` for void) and instance
    id (1..K for things, 0 for stuff and void), from the argmax semantics (H, W), the centre
    heatmap (1, H, W) and the offsets (2, H, W)."""
    centers = find_instance_centers(center, center_threshold, nms_kernel, top_k)
    return panoptic_from_centers(sem, centers, offset, thing_classes, stuff_area, void_label, thing_area)


def panoptic_from_centers(
    sem: torch.Tensor,
    centers: torch.Tensor,
    offset: torch.Tensor,
    thing_classes: Sequence[int],
    stuff_area: int = 64,
    void_label: int = 255,
    thing_area: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The panoptic map of `panoptic_from_outputs` around given (K, 2) row, col centres."""
    things = torch.tensor(list(thing_classes), device=sem.device)
    is_thing = torch.isin(sem, things)
    out_sem = torch.full_like(sem, void_label)
    out_inst = torch.zeros_like(sem)
    if len(centers) and is_thing.any():
        groups = group_pixels(centers, offset, is_thing)
        for k in torch.unique(groups[groups > 0]).tolist():
            mask = groups == k
            if int(mask.sum()) < thing_area:
                continue
            out_sem[mask] = torch.mode(sem[mask]).values  # majority vote among its thing labels
            out_inst[mask] = k
    for class_id in torch.unique(sem[~is_thing]).tolist():
        if class_id == void_label:
            continue
        mask = (sem == class_id) & ~is_thing
        if int(mask.sum()) >= stuff_area:
            out_sem[mask] = class_id
    return out_sem, out_inst
