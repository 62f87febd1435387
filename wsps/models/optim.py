"""Optimiser and scheduler from Hydra partials, shared by both LightningModules."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from hydra.utils import instantiate
from torch import nn


def factories(*nodes):
    """Each of the optimiser's and scheduler's config nodes (`_partial_: true`) as the partial it
    names; a partial or None stays as it is."""
    return tuple(instantiate(node) if isinstance(node, Mapping) else node for node in nodes)


def parameter_groups(module: nn.Module, encoder: nn.Module, encoder_lr_factor: float, lr: float) -> list[dict]:
    """The module's parameters in two groups: the encoder's at `encoder_lr_factor` times `lr`, the
    rest (decoder and heads) at `lr`. A pretrained encoder usually wants a lower rate than the new
    layers; at a factor of 1 both groups train alike."""
    own = {id(p) for p in encoder.parameters()}
    return [
        {"params": list(encoder.parameters()), "lr": lr * encoder_lr_factor},
        {"params": [p for p in module.parameters() if id(p) not in own], "lr": lr},
    ]


def configure(module, optimizer_factory, scheduler_factory, encoder: nn.Module | None = None, encoder_lr_factor=1.0):
    """`optimizer_factory(params=...)` (AdamW, lr 1e-3 when unset), stepped per epoch by
    `scheduler_factory(optimizer=...)` when given; with `encoder`, its parameters learn at
    `encoder_lr_factor` times the optimiser's rate (`parameter_groups`)."""
    optimizer_factory = optimizer_factory or (lambda params: torch.optim.AdamW(params, lr=1e-3))
    params = module.parameters()
    if encoder is not None and encoder_lr_factor != 1:
        lr = getattr(optimizer_factory, "keywords", {}).get("lr", 1e-3)
        params = parameter_groups(module, encoder, encoder_lr_factor, lr)
    optimizer = optimizer_factory(params=params)
    if scheduler_factory is None:
        return optimizer
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler_factory(optimizer=optimizer), "interval": "epoch"},
    }
