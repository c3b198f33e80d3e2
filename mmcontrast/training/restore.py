"""Rebuilding a trained ``ContrastiveModel`` from a config and an Accelerate checkpoint."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..encoders import ContrastiveModel
from .build import build_model, build_objective
from .checkpoint import latest_checkpoint
from .learner import Learner


def model_from_checkpoint(cfg: Config, checkpoint: str | Path | None = None) -> ContrastiveModel:
    """The config's model with the weights of ``checkpoint`` (default: the latest in ``cfg.output_dir``).
    Without any checkpoint, the untrained model is returned (evaluate the starting point)."""
    from safetensors.torch import load_file

    path = Path(checkpoint) if checkpoint is not None else latest_checkpoint(cfg.output_dir)
    learner = Learner(build_model(cfg), build_objective(cfg))
    if path is None:
        print(f"no checkpoint in {cfg.output_dir}: using the untrained model")
        return learner.model
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no model.safetensors")
    missing, unexpected = learner.load_state_dict(load_file(str(weights)), strict=False)
    if unexpected or [m for m in missing if not m.startswith("objective.")]:
        raise ValueError(f"checkpoint {path} does not fit the config's model: missing {missing}, unexpected {unexpected}")
    return learner.model
