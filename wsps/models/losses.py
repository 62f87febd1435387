"""Panoptic-DeepLab losses (pure torch), as detectron2's: cross-entropy with hard pixel mining,
MSE on the centre heatmap, L1 on the offsets, each weighted per pixel."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def semantic_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_label: int = 255,
    top_k_percent: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy over non-ignored pixels, times `weight`; with `top_k_percent < 1` only the
    hardest share of the batch's pixels counts (hard pixel mining)."""
    losses = F.cross_entropy(logits, target, ignore_index=ignore_label, reduction="none")
    if weight is not None:
        losses = losses * weight
    losses = losses[target != ignore_label]
    if losses.numel() == 0:
        return logits.sum() * 0
    if top_k_percent < 1:
        losses = losses.topk(max(1, int(top_k_percent * losses.numel()))).values
    return losses.mean()


def class_balance_weights(frequencies, max_weight: float = 10.0) -> torch.Tensor:
    """Per-class weights of the semantic loss from the classes' pixel shares in the training
    labels: sqrt(median share / share), median frequency balancing (SegNet, ENet) softened by
    the square root, at most `max_weight` times the median class's (the lower median); classes
    the labels never show weigh as the median class. Scaled so that the average training pixel
    weighs 1, which keeps the loss's scale. Without it rare thing classes (rider, motorcycle,
    bicycle) weigh next to nothing."""
    share = torch.as_tensor(frequencies, dtype=torch.float32)
    present = share > 0
    if not present.any():
        return torch.ones_like(share)
    share = share / share.sum()
    weights = torch.ones_like(share)
    weights[present] = (share[present].median() / share[present]).sqrt().clamp(max=max_weight)
    return weights / (weights * share).sum()


def _weighted(losses: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    losses = losses * weight
    total = weight.sum()
    return losses.sum() / total if total > 0 else losses.sum() * 0


def center_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error on the centre heatmap over weighted pixels."""
    return _weighted(F.mse_loss(pred, target, reduction="none"), weight)


def offset_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 error on the (row, col) offsets over weighted pixels (instance pixels)."""
    return _weighted(F.l1_loss(pred, target, reduction="none"), weight)


def crop_presence(
    probs: torch.Tensor, crop_bits: torch.Tensor, top_fraction: float = 0.05, stride: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per crop and class, how strongly the class shows: the mean of the top `top_fraction` of its
    probabilities over the crop's pixels (probabilities max-pooled over stride x stride cells first,
    which keeps a 3-pixel pole and costs a sixteenth of the sorting). `probs` (N, C, H, W);
    `crop_bits` (N, H, W) int, bit k set where crop k covers the pixel. Returns the (N, K, C)
    scores and the (N, K) number of pooled cells each crop covers."""
    pooled = F.max_pool2d(probs, stride, ceil_mode=True).flatten(2)  # (N, C, P)
    bits = crop_bits[:, ::stride, ::stride].flatten(1)  # (N, P), one pixel per cell
    n_crops = int(crop_bits.max()).bit_length()
    if n_crops == 0:  # no crop shows
        return pooled.new_zeros(len(pooled), 0, pooled.shape[1]), bits.new_zeros(len(bits), 0)
    scores, cells = [], []
    for k in range(n_crops):
        inside = (bits >> k) & 1 == 1
        count = inside.sum(dim=1)
        take = (top_fraction * count.float()).ceil().clamp(min=1).long()
        top = pooled.masked_fill(~inside[:, None], 0).topk(int(take.max()), dim=2).values  # (N, C, M)
        ranks = torch.arange(top.shape[2], device=top.device)[None, :] < take[:, None]
        scores.append((top * ranks[:, None]).sum(dim=2) / take[:, None])
        cells.append(count)
    return torch.stack(scores, dim=1), torch.stack(cells, dim=1)


def crop_tag_loss(
    logits: torch.Tensor,
    crop_bits: torch.Tensor,
    crop_tags: torch.Tensor,
    crop_visible: torch.Tensor,
    top_fraction: float = 0.05,
    min_visible: float = 0.8,
    stride: int = 4,
    classes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiple-instance loss on the fixed crops' image tags, the weak labels themselves: binary
    cross-entropy of each crop's presence scores (`crop_presence` on the softmax) against its tags
    (N, K, C). A tag says a class is somewhere in the whole crop, so it counts only where at least
    `min_visible` of the crop is inside the augmented image (`crop_visible`, (N, K)); an absent
    tag holds for any part that shows. The pseudo-GT has no pixels of a class its cues missed
    (a pole under a building's CAM); this asks the segmenter to find it in the crops tagged with it.
    `classes` (C,) bool: the classes the loss counts (None: all of them)."""
    scores, cells = crop_presence(logits.float().softmax(dim=1), crop_bits, top_fraction, stride)
    k = scores.shape[1]
    tags, visible = crop_tags[:, :k], crop_visible[:, :k, None]
    scores = scores.clamp(1e-6, 1 - 1e-6)
    losses = -(tags * torch.log(scores) * (visible >= min_visible) + (1 - tags) * torch.log(1 - scores))
    if classes is not None:
        losses = losses[..., classes]
    shown = cells > 0
    if not shown.any():
        return logits.sum() * 0
    return losses.mean(dim=2)[shown].mean()
