"""Instantiating a run's components from its config (one registry per axis)."""

from __future__ import annotations

from typing import Any

import torch

from ..config import Config
from ..encoders import ENCODERS, HEADS, ContrastiveModel
from ..negatives import NEGATIVES
from ..objectives import OBJECTIVES, Objective
from ..views import VIEWS, View


def params(component: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "name"}


def build_model(cfg: Config) -> ContrastiveModel:
    encoder = ENCODERS.get(cfg.encoder["name"])(**params(cfg.encoder))
    head = None
    if cfg.head is not None:
        head = HEADS.get(cfg.head["name"])(input_dim=encoder.embedding_dim, **params(cfg.head))
    return ContrastiveModel(encoder, head)


def build_objective(cfg: Config) -> Objective:
    negatives = NEGATIVES.get(cfg.negatives["name"])(**params(cfg.negatives))
    return OBJECTIVES.get(cfg.objective["name"])(negatives=negatives, **params(cfg.objective))


def build_view(cfg: Config, seed: int, device: torch.device) -> View:
    factory = VIEWS.get(cfg.view["name"])
    kwargs = params(cfg.view)
    import inspect

    accepted = inspect.signature(factory).parameters
    if "seed" in accepted:
        kwargs["seed"] = seed
    if "device" in accepted:
        kwargs["device"] = device
    return factory(**kwargs)


def build_evaluators(cfg: Config) -> list[Any]:
    from ..evaluation import EVALUATORS

    return [EVALUATORS.get(c["name"])(**params(c)) for c in cfg.evaluators]
