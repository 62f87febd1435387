"""Panoptic-DeepLab losses (pure torch), as detectron2's: cross-entropy with hard pixel mining,
MSE on the centre heatmap, L1 on the offsets, each weighted per pixel."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def semantic_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  ignore_label: int = 255, top_k_percent: float = 1.0) -> torch.Tensor:
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
