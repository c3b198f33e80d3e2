"""Instantiating a run's components from its config (one registry per axis)."""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch

from ..config import Config
from ..errors import ConfigError, MmcontrastError
from ..encoders import ENCODERS, HEADS, TARGETS, TILE_HEADS, ContrastiveModel, DualEncoderModel, TwoTowerModel
from ..evaluation import EVALUATORS
from ..export.dual_encoder import export_problems
from ..miners import MINERS
from ..negatives import NEGATIVES
from ..objectives import OBJECTIVES, Objective
from ..retrieval import RetrievalEvaluator  # noqa: F401 - importing mmcontrast.retrieval registers it
from ..views import VIEWS, View
from .learner import Learner


def params(component: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "name"}


@contextmanager
def component_errors(key: str, component: dict[str, Any] | None = None) -> Iterator[None]:
    """Report a component constructor's ValueError as a ConfigError naming the config key (``objective``,
    ``evaluators[1]``, ...) and the component, so the CLI prints it as one line."""
    try:
        yield
    except MmcontrastError:
        raise
    except ValueError as err:
        name = f" '{component['name']}'" if component and "name" in component else ""
        raise ConfigError(f"{key}{name}: {err}") from err


def _with_injected(factory: Callable[..., Any], kwargs: dict[str, Any], **injected: Any) -> dict[str, Any]:
    """Add the injected values the factory accepts and the config did not set."""
    accepted = inspect.signature(factory).parameters
    return {**{k: v for k, v in injected.items() if k in accepted and k not in kwargs}, **kwargs}


def _tower(encoder_cfg: dict[str, Any], head_cfg: dict[str, Any] | None, prompts: dict[str, str],
           keys: tuple[str, str] = ("encoder", "head")) -> ContrastiveModel:
    with component_errors(keys[0], encoder_cfg):
        encoder = ENCODERS.get(encoder_cfg["name"])(**params(encoder_cfg))
    head = None
    if head_cfg is not None:
        with component_errors(keys[1], head_cfg):
            head = HEADS.get(head_cfg["name"])(input_dim=encoder.embedding_dim, **params(head_cfg))
    with component_errors("prompts"):
        return ContrastiveModel(encoder, head, prompts)


def build_model(cfg: Config) -> ContrastiveModel | TwoTowerModel | DualEncoderModel:
    """The online model: one tower (``encoder`` + ``head``), or a query tower and a separate passage tower
    (``passage_encoder`` + ``passage_head``) as in DPR, or an image-text dual encoder (``encoder: {name:
    dual_encoder, ...}``, towers and projections included)."""
    if ENCODERS.get(cfg.encoder["name"]) is DualEncoderModel:
        return _dual_encoder(cfg)
    query = _tower(cfg.encoder, cfg.head, cfg.prompts)
    if cfg.passage_encoder is None:
        return query
    passage = _tower(cfg.passage_encoder, cfg.passage_head, cfg.prompts, ("passage_encoder", "passage_head"))
    with component_errors("passage_encoder"):
        return TwoTowerModel(query, passage)


def _dual_encoder(cfg: Config) -> DualEncoderModel:
    """The dual encoder of ``cfg``; it owns its projections and logit scale, so the single-tower keys must stay
    unset, and (when the run exports) its towers must fit ``VisionTextDualEncoderModel``: checked before training."""
    unsupported = {"head": cfg.head, "passage_encoder": cfg.passage_encoder, "passage_head": cfg.passage_head,
                   "predictor": cfg.predictor, "target": cfg.target, "prompts": cfg.prompts or None}
    set_keys = [key for key, value in unsupported.items() if value is not None]
    if set_keys or cfg.symmetric != "none":
        keys = set_keys + (["symmetric"] if cfg.symmetric != "none" else [])
        raise ConfigError(f"encoder 'dual_encoder' holds both towers, their projections (encoder.projection_dim) and "
                         f"the logit scale, and objectives 'clip' / 'siglip' are symmetric already: unset {keys}")
    with component_errors("encoder", cfg.encoder):
        model = DualEncoderModel(**params(cfg.encoder))
    if cfg.export.enabled:
        problems = export_problems(model)
        if problems:
            raise ConfigError("this dual encoder cannot be exported as a transformers VisionTextDualEncoderModel: "
                             + "; ".join(problems) + ". Change the tower, or set export.enabled=false")
    return model


def build_objective(cfg: Config, embedding_dim: int, num_samples: int | None = None) -> Objective:
    """Negatives and objective; ``embedding_dim`` (training embeddings), ``num_samples`` (training rows), the
    run's seed and the ``miner`` are injected where a constructor asks for them."""
    injected = {"embedding_dim": embedding_dim, "num_samples": num_samples, "seed": cfg.seed}
    factory = NEGATIVES.get(cfg.negatives["name"])
    if "num_samples" in inspect.signature(factory).parameters and num_samples is None:
        raise ValueError(f"negatives '{cfg.negatives['name']}' needs the training set size")
    with component_errors("negatives", cfg.negatives):
        negatives = factory(**_with_injected(factory, params(cfg.negatives), **injected))
    objective = OBJECTIVES.get(cfg.objective["name"])
    if cfg.miner is not None:  # checked against the objective and the view's labels by config.validate
        with component_errors("miner", cfg.miner):
            injected["miner"] = MINERS.get(cfg.miner["name"])(**params(cfg.miner))
    with component_errors("objective", cfg.objective):
        return objective(negatives=negatives, **_with_injected(objective, params(cfg.objective), **injected))


def build_learner(cfg: Config, num_samples: int | None = None) -> Learner:
    """Online model, objective, predictor and target branch of ``cfg`` as one module."""
    model = build_model(cfg)
    predictor = None
    dim = model.train_dim
    if cfg.predictor is not None:
        with component_errors("predictor", cfg.predictor):
            predictor = HEADS.get(cfg.predictor["name"])(input_dim=dim, **params(cfg.predictor))
        if predictor.output_dim != dim:
            raise ConfigError(f"predictor.output_dim {predictor.output_dim} must equal the projection size {dim} "
                             "(the prediction is compared with the target's projection)")
    target = None
    if cfg.target is not None:
        with component_errors("target", cfg.target):
            target = TARGETS.get(cfg.target["name"])(
                **_with_injected(TARGETS.get(cfg.target["name"]), params(cfg.target), online=model)
            )
    objective = build_objective(cfg, dim, num_samples)
    if model.logit_scale() is not None and not getattr(objective, "uses_logit_scale", False):
        raise ConfigError(f"encoder 'dual_encoder' learns its logit scale, which objective '{cfg.objective['name']}' "
                         "does not use: choose objective 'clip' or 'siglip'")
    return Learner(model, objective, predictor, target, cfg.symmetric, _tile_head(cfg, model),
                   cfg.train.bn_running_stats)


def _tile_head(cfg: Config, model: ContrastiveModel | TwoTowerModel | DualEncoderModel) -> torch.nn.Module | None:
    """PIRL's g for a jigsaw view that encodes its tiles (``view.encode_tiles``), sized from the encoder (input),
    the view (n = grid squared tiles) and the image head (output); None without ``tile_head``. The two settings
    come together (checked by config validation)."""
    if cfg.tile_head is None:
        return None
    factory = TILE_HEADS.get(cfg.tile_head["name"])
    kwargs = params(cfg.tile_head)
    if kwargs.get("output_dim", model.train_dim) != model.train_dim:
        raise ConfigError(f"tile_head.output_dim {kwargs['output_dim']} must equal the image branch's embedding size "
                         f"{model.train_dim} (the two are contrasted); leave it unset")
    kwargs["output_dim"] = model.train_dim
    default_grid = inspect.signature(VIEWS.get(cfg.view["name"])).parameters["grid"].default  # the view's own default
    with component_errors("tile_head", cfg.tile_head):
        return factory(input_dim=model.encoder.embedding_dim, num_tiles=int(cfg.view.get("grid", default_grid)) ** 2,
                       **kwargs)


def build_view(cfg: Config, seed: int, device: torch.device) -> View:
    factory = VIEWS.get(cfg.view["name"])
    with component_errors("view", cfg.view):
        return factory(**{**params(cfg.view), **_with_injected(factory, {}, seed=seed, device=device)})


def build_evaluators(cfg: Config) -> list[Any]:
    """Each evaluator built from its config section (``from_config``)."""
    evaluators = []
    for i, component in enumerate(cfg.evaluators):
        with component_errors(f"evaluators[{i}]", component):
            evaluators.append(EVALUATORS.get(component["name"]).from_config(params(component)))
    return evaluators
