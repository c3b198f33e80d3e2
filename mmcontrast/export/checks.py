"""What must hold before anything is exported or published: the model maps onto the export format (checked
before training starts, so a run is never lost to an export that could not work) and its weights are finite."""

from __future__ import annotations

from typing import Any

import torch

from .dual_encoder import export_problems as dual_encoder_problems
from .text import eval_head_dense, pooler_dense

EXPORTED_MODALITIES = ("text", "vision", "image_text")


def export_problems(model: Any) -> list[str]:
    """Why ``model`` (a ``ContrastiveModel``, ``TwoTowerModel`` or ``DualEncoderModel``) cannot be exported;
    empty when it can. Structural checks only: nothing is written."""
    modality = getattr(model, "modality", None)
    if modality not in EXPORTED_MODALITIES:
        return [f"a model of modality '{modality}' has no export format (supported: {', '.join(EXPORTED_MODALITIES)})"]
    if modality == "image_text":
        return dual_encoder_problems(model)
    towers = [model.query, model.passage] if hasattr(model, "query") and hasattr(model, "passage") else [model]
    problems = []
    for tower in towers:
        try:
            eval_head_dense(tower.head)
            if modality == "text":
                pooler_dense(tower.encoder)
        except ValueError as err:
            problems.append(str(err))
    return problems


def non_finite_parameters(model: torch.nn.Module) -> list[str]:
    """Names of the parameters and floating buffers of ``model`` holding NaN or infinite values."""
    named = list(model.named_parameters()) + [(n, b) for n, b in model.named_buffers() if b.is_floating_point()]
    return [name for name, tensor in named if not bool(torch.isfinite(tensor.detach()).all())]
