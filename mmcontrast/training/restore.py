"""Rebuilding a trained ``ContrastiveModel`` from a config and an Accelerate checkpoint (``mmcontrast evaluate``,
``export``, ``index``).

The model comes from a checkpoint of the run, never silently from the untrained config: without a checkpoint it is
an error unless the caller asks for the untrained model (``--untrained``). The checkpoint's recorded config must
match the given one in the keys that define the weights (``fingerprint``), unless forced.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, RunError
from .build import build_model
from .checkpoint import complete_checkpoints, newest_that_loads, read_state
from .fingerprint import config_tree
from .run_folder import check_resumable

PREFIX = "model."


@dataclass
class RestoredModel:
    """A model with where its weights came from: ``checkpoint`` None and ``step`` 0 for the untrained model."""

    model: Any
    checkpoint: Path | None
    step: int


def restore_model(cfg: Config, checkpoint: str | Path | None = None, untrained: bool = False,
                  force: bool = False) -> RestoredModel:
    """The config's (online) model with the weights of ``checkpoint`` (default: the newest checkpoint of
    ``cfg.output_dir`` that loads), or the untrained model when ``untrained``."""
    if untrained:
        if checkpoint is not None:
            raise ConfigError("give --checkpoint or --untrained, not both")
        return RestoredModel(build_model(cfg), None, 0)
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_dir():
            raise RunError(f"checkpoint {path} not found: give a checkpoint folder such as "
                           f"{Path(cfg.output_dir) / 'checkpoints' / 'step-N'}")
        candidates = [path]
    else:
        candidates = complete_checkpoints(cfg.output_dir)
        if not candidates:
            raise RunError(f"no checkpoint in {Path(cfg.output_dir) / 'checkpoints'}: train first, point --checkpoint "
                           "at one, or pass --untrained to use the model the config starts from")
    model = build_model(cfg)

    def load(path: Path) -> int:
        state = read_state(path)
        for notice in check_resumable(path, state, config_tree(cfg), force, what="use it"):
            print(f"mmcontrast: {notice}", file=sys.stderr)
        _load_weights(model, path)
        return int(state["step"])

    path, step = newest_that_loads(candidates, load)
    return RestoredModel(model, path, step)


def model_from_checkpoint(cfg: Config, checkpoint: str | Path | None = None, untrained: bool = False,
                          force: bool = False) -> Any:
    """``restore_model(...).model``."""
    return restore_model(cfg, checkpoint, untrained, force).model


def _load_weights(model: Any, path: Path) -> None:
    from safetensors.torch import load_file

    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no model.safetensors")
    state = {k[len(PREFIX):]: v for k, v in load_file(str(weights)).items() if k.startswith(PREFIX)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise RunError(f"checkpoint {path} does not fit the config's model: missing {missing[:5]}, unexpected "
                       f"{unexpected[:5]}")
