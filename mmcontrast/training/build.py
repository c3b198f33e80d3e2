"""Instantiating a run's components from its config (one registry per axis)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from ..config import Config
from ..encoders import ENCODERS, HEADS, TARGETS, ContrastiveModel, TwoTowerModel
from ..negatives import NEGATIVES
from ..objectives import OBJECTIVES, Objective
from ..views import VIEWS, View
from .learner import Learner


def params(component: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "name"}


def _with_injected(factory: Callable[..., Any], kwargs: dict[str, Any], **injected: Any) -> dict[str, Any]:
    """Add the injected values the factory accepts and the config did not set."""
    accepted = inspect.signature(factory).parameters
    return {**{k: v for k, v in injected.items() if k in accepted and k not in kwargs}, **kwargs}


def _tower(encoder_cfg: dict[str, Any], head_cfg: dict[str, Any] | None, prompts: dict[str, str]) -> ContrastiveModel:
    encoder = ENCODERS.get(encoder_cfg["name"])(**params(encoder_cfg))
    head = None
    if head_cfg is not None:
        head = HEADS.get(head_cfg["name"])(input_dim=encoder.embedding_dim, **params(head_cfg))
    return ContrastiveModel(encoder, head, prompts)


def build_model(cfg: Config) -> ContrastiveModel | TwoTowerModel:
    """The online model: one tower (``encoder`` + ``head``), or a query tower and a separate passage tower
    (``passage_encoder`` + ``passage_head``) as in DPR."""
    query = _tower(cfg.encoder, cfg.head, cfg.prompts)
    if cfg.passage_encoder is None:
        return query
    return TwoTowerModel(query, _tower(cfg.passage_encoder, cfg.passage_head, cfg.prompts))


def build_objective(cfg: Config, embedding_dim: int, num_samples: int | None = None) -> Objective:
    """Negatives and objective; ``embedding_dim`` (training embeddings), ``num_samples`` (training rows) and the
    run's seed are injected where a constructor asks for them."""
    injected = {"embedding_dim": embedding_dim, "num_samples": num_samples, "seed": cfg.seed}
    factory = NEGATIVES.get(cfg.negatives["name"])
    if "num_samples" in inspect.signature(factory).parameters and num_samples is None:
        raise ValueError(f"negatives '{cfg.negatives['name']}' needs the training set size")
    negatives = factory(**_with_injected(factory, params(cfg.negatives), **injected))
    objective = OBJECTIVES.get(cfg.objective["name"])
    return objective(negatives=negatives, **_with_injected(objective, params(cfg.objective), **injected))


def build_learner(cfg: Config, num_samples: int | None = None) -> Learner:
    """Online model, objective, predictor and target branch of ``cfg`` as one module."""
    model = build_model(cfg)
    predictor = None
    dim = model.train_dim
    if cfg.predictor is not None:
        predictor = HEADS.get(cfg.predictor["name"])(input_dim=dim, **params(cfg.predictor))
        if predictor.output_dim != dim:
            raise ValueError(f"predictor.output_dim {predictor.output_dim} must equal the projection size {dim} "
                             "(the prediction is compared with the target's projection)")
    target = None
    if cfg.target is not None:
        target = TARGETS.get(cfg.target["name"])(
            **_with_injected(TARGETS.get(cfg.target["name"]), params(cfg.target), online=model)
        )
    return Learner(model, build_objective(cfg, dim, num_samples), predictor, target, cfg.symmetric)


def build_view(cfg: Config, seed: int, device: torch.device) -> View:
    factory = VIEWS.get(cfg.view["name"])
    return factory(**{**params(cfg.view), **_with_injected(factory, {}, seed=seed, device=device)})


def build_evaluators(cfg: Config) -> list[Any]:
    from ..evaluation import EVALUATORS

    return [EVALUATORS.get(c["name"])(**params(c)) for c in cfg.evaluators]
