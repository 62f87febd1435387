"""Optimiser and scheduler from Hydra partials, shared by both LightningModules."""

from __future__ import annotations

import torch


def configure(module, optimizer_factory, scheduler_factory):
    """`optimizer_factory(params=...)` (AdamW, lr 1e-3 when unset), stepped per epoch by
    `scheduler_factory(optimizer=...)` when given."""
    if optimizer_factory is None:
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    else:
        optimizer = optimizer_factory(params=module.parameters())
    if scheduler_factory is None:
        return optimizer
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler_factory(optimizer=optimizer), "interval": "epoch"},
    }
