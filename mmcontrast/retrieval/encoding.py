"""Encoding texts in a role (``query`` or ``passage``) with any model that has ``encode``.

Dual-encoder models (DPR's two towers, a model with E5-style prompts) take ``encode(texts, batch_size, role=...)``;
a model whose ``encode`` has no ``role`` parameter is called without it (one tower, no prompt).
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch

from ..evaluation.base import Inputs, encode


def accepts_role(model: Any) -> bool:
    """Whether ``model.encode`` declares a ``role`` parameter."""
    try:
        return "role" in inspect.signature(model.encode).parameters
    except (TypeError, ValueError):  # builtins or C extensions without a signature
        return False


class _InRole:
    """``model`` seen as a plain encoder whose ``encode(inputs, batch_size)`` uses ``role``."""

    def __init__(self, model: Any, role: str) -> None:
        self.model, self.role = model, role

    def encode(self, inputs: Inputs, batch_size: int = 128) -> torch.Tensor:
        return self.model.encode(inputs, batch_size=batch_size, role=self.role)


def encode_texts(model: Any, texts: Sequence[str], role: str, batch_size: int = 128,
                 prefix: str = "") -> torch.Tensor:
    """``prefix + text`` of each of the N ``texts`` embedded in ``role`` -> float32 CPU tensor (N, D).

    ``role`` is passed to ``model.encode`` only when it accepts one (``accepts_role``). The output is checked to
    be (N, D) (``evaluation.base.encode``).
    """
    inputs = [prefix + t for t in texts] if prefix else list(texts)
    encoder = _InRole(model, role) if accepts_role(model) else model
    return encode(encoder, inputs, batch_size, what=f"{role} texts")
