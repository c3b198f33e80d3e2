"""Optimizer and learning-rate schedule."""

from __future__ import annotations

import torch
from torch import nn

from ..config import TrainConfig


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay (and, with LARS, no trust-ratio adaptation) on biases, norm weights and scalar parameters
    (temperature), as in BERT, SimCLR and BYOL."""
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]


def build_optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(module, cfg.weight_decay)
    if cfg.optimizer == "lars":
        from .lars import LARS

        return LARS(groups, lr=cfg.lr, momentum=cfg.momentum, trust_coefficient=cfg.lars_trust_coefficient)
    for group in groups:
        group.pop("lars_exclude", None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    """Warmup then decay (``transformers.get_scheduler``: linear, cosine, constant_with_warmup, ...)."""
    from transformers import get_scheduler

    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(round(cfg.warmup_ratio * total_steps))
    return get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
