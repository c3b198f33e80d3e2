"""Optimizer and learning-rate schedule."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..config import TrainConfig
from .lars import LARS


def parameter_groups(module: nn.Module, weight_decay: float, constant_lr: Sequence[str] = ()) -> list[dict]:
    """No weight decay (and, with LARS, no trust-ratio adaptation) on biases, norm weights and scalar parameters
    (temperature), as in BERT, SimCLR and BYOL. Parameters of the submodules named in ``constant_lr`` (dotted
    names inside ``module``, e.g. ``predictor``) go to groups marked ``constant_lr: True``, which the schedule
    leaves at the base lr (``build_scheduler``)."""
    missing = [name for name in constant_lr if not _has_submodule(module, name)]
    if missing:
        children = sorted(name for name, _ in module.named_children())
        raise ValueError(f"train.constant_lr names {missing}, which this run's learner does not have "
                         f"(its parts: {children}; nested ones by dotted name, e.g. model.head)")
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {(c, d): [] for c in (False, True) for d in (True, False)}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        constant = any(name == prefix or name.startswith(prefix + ".") for prefix in constant_lr)
        decays = not (param.ndim <= 1 or name.endswith(".bias"))
        groups[constant, decays].append(param)
    out = []
    for (constant, decays), params in groups.items():
        if constant and not params:
            continue
        group: dict = {"params": params, "weight_decay": weight_decay if decays else 0.0}
        if not decays:
            group["lars_exclude"] = True
        if constant:
            group["constant_lr"] = True
        out.append(group)
    return out


def _has_submodule(module: nn.Module, name: str) -> bool:
    try:
        module.get_submodule(name)
        return True
    except AttributeError:
        return False


def build_optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(module, cfg.weight_decay, cfg.constant_lr)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=cfg.lr, momentum=cfg.momentum, trust_coefficient=cfg.lars_trust_coefficient)
    for group in groups:
        group.pop("lars_exclude", None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))


def _constant(_: int) -> float:
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    """Warmup then decay (``transformers.get_scheduler``: linear, cosine, constant_with_warmup, ...); groups marked
    ``constant_lr`` (``train.constant_lr``) keep the base lr throughout (SimSiam's predictor: Chen & He 2021,
    Sec. 4.2, "Exploring Simple Siamese Representation Learning")."""
    from transformers import get_scheduler

    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(round(cfg.warmup_ratio * total_steps))
    scheduler = get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
    constant = [i for i, group in enumerate(optimizer.param_groups) if group.get("constant_lr")]
    if constant and not hasattr(scheduler, "lr_lambdas"):
        raise ValueError(f"train.constant_lr needs a LambdaLR schedule; '{cfg.scheduler}' is {type(scheduler).__name__}")
    for i in constant:
        scheduler.lr_lambdas[i] = _constant
        optimizer.param_groups[i]["lr"] = optimizer.param_groups[i]["initial_lr"]
    return scheduler
