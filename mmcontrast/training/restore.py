"""Rebuilding a trained ``ContrastiveModel`` from a config and an Accelerate checkpoint."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..encoders import ContrastiveModel
from .build import build_model
from .checkpoint import latest_checkpoint

PREFIX = "model."


def model_from_checkpoint(cfg: Config, checkpoint: str | Path | None = None) -> ContrastiveModel:
    """The config's (online) model with the weights of ``checkpoint`` (default: the latest in
    ``cfg.output_dir``). Without any checkpoint, the untrained model is returned (evaluate the starting point)."""
    from safetensors.torch import load_file

    path = Path(checkpoint) if checkpoint is not None else latest_checkpoint(cfg.output_dir)
    model = build_model(cfg)
    if path is None:
        print(f"no checkpoint in {cfg.output_dir}: using the untrained model")
        return model
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no model.safetensors")
    state = {k[len(PREFIX):]: v for k, v in load_file(str(weights)).items() if k.startswith(PREFIX)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise ValueError(f"checkpoint {path} does not fit the config's model: missing {missing}, unexpected {unexpected}")
    return model
