"""``Learner``: the one module handed to Accelerate/DDP, so that the encoder, its head AND the objective's
parameters (a learnable temperature) are synchronised together. The objective still only sees embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..batch import EmbeddingBatch
from ..encoders import ContrastiveModel
from ..objectives import Objective
from ..views import ViewBatch


@dataclass(frozen=True)
class RoleLayout:
    """Row counts of each role inside the single forward: query B, positive B or 0, negatives K x B."""

    batch: int
    has_positive: bool
    num_negatives: int


def flatten_views(model: ContrastiveModel, views: ViewBatch) -> tuple[dict[str, torch.Tensor], RoleLayout]:
    """Concatenate every role's items into ONE model input (one forward: SimCSE's dropout twins come from the
    same call, BatchNorm sees both SimCLR views) and remember the layout to split the embeddings again."""
    groups: list[Any] = [views.query]
    if views.positive is not None:
        groups.append(views.positive)
    negatives = views.negatives or []
    groups.extend(negatives)
    if isinstance(views.query, torch.Tensor):
        items: Any = torch.cat(list(groups), dim=0)
    else:
        items = [item for group in groups for item in group]
    layout = RoleLayout(len(views.query), views.positive is not None, len(negatives))
    return model.prepare(items), layout


def split_embeddings(embeddings: torch.Tensor, layout: RoleLayout, labels: torch.Tensor | None) -> EmbeddingBatch:
    """(N_total, D) -> EmbeddingBatch(query (B, D), positive (B, D)?, negatives (B, K, D)?)."""
    b = layout.batch
    query = embeddings[:b]
    start = b
    positive = None
    if layout.has_positive:
        positive, start = embeddings[b : 2 * b], 2 * b
    negatives = None
    if layout.num_negatives:
        k = layout.num_negatives
        negatives = embeddings[start : start + k * b].reshape(k, b, -1).transpose(0, 1)
    return EmbeddingBatch(query=query, positive=positive, negatives=negatives, labels=labels)


class Learner(nn.Module):
    """Model + objective: ``forward(inputs, layout, labels) -> (loss, EmbeddingBatch)``."""

    def __init__(self, model: ContrastiveModel, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(
        self, inputs: dict[str, torch.Tensor], layout: RoleLayout, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, EmbeddingBatch]:
        batch = split_embeddings(self.model(inputs), layout, labels)
        return self.objective(batch), batch
