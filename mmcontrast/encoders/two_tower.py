"""Two towers with separate weights: a query encoder and a passage encoder (DPR, Karpukhin et al. 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..batch import StepBatch, ViewBatch
from .model import ContrastiveModel, Items
from .roles import layout_of, query_and_rest, reject_tiles_and_crops, step_batch

QUERY, PASSAGE = "query", "passage"


class TwoTowerModel(nn.Module):
    """``query`` embeds the query role, ``passage`` the positive and negative roles; both must produce
    embeddings of the same size. Training inputs are ``{"query": inputs, "passage": inputs}`` and ``forward``
    returns the query rows first, then the passage rows (the layout ``flatten_views`` expects).

    ``encode(items, role=...)`` picks the tower: ``passage`` for passages, anything else for queries.
    """

    def __init__(self, query: ContrastiveModel, passage: ContrastiveModel) -> None:
        super().__init__()
        if query.train_dim != passage.train_dim or query.embedding_dim != passage.embedding_dim:
            raise ValueError(
                f"the query and passage towers must embed to the same size: query {query.train_dim} "
                f"(evaluation {query.embedding_dim}), passage {passage.train_dim} (evaluation {passage.embedding_dim})"
            )
        self.query = query
        self.passage = passage

    @property
    def modality(self) -> str:
        return self.query.modality

    @property
    def embedding_dim(self) -> int:
        return self.query.embedding_dim

    @property
    def train_dim(self) -> int:
        return self.query.train_dim

    def tower(self, role: str | None) -> ContrastiveModel:
        return self.passage if role == PASSAGE else self.query

    def prepare_roles(self, queries: Items, passages: Items) -> dict[str, dict[str, torch.Tensor]]:
        """Queries (B items) and passages (positives then negatives) -> nested training inputs."""
        return {QUERY: self.query.prepare(self.query.with_prompt(queries, QUERY)),
                PASSAGE: self.passage.prepare(self.passage.with_prompt(passages, PASSAGE))}

    def prepare_views(self, views: ViewBatch) -> StepBatch:
        """Queries through the query tower, positives and negatives through the passage tower (each tower adds
        its own prompt); no multi-crop or jigsaw tiles."""
        reject_tiles_and_crops(views, "two-tower model")
        query, rest = query_and_rest(views)
        if rest is None or len(rest) == 0:
            raise ValueError("a two-tower model needs passages (a positive view) besides the queries")
        return step_batch(views, self.prepare_roles(query, rest), layout_of(views))

    def logit_scale(self) -> torch.Tensor | None:
        """No learnable logit scale (only a dual encoder owns one)."""
        return None

    def after_optimizer_step(self) -> None:
        """Called after every optimizer step: nothing to do for two towers."""

    def forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        """(B + P, D): the query rows, then the passage rows."""
        return torch.cat([self.query(inputs[QUERY]), self.passage(inputs[PASSAGE])], dim=0)

    def encode(
        self, items: Items, batch_size: int = 128, device: torch.device | str | None = None, role: str | None = None
    ) -> torch.Tensor:
        return self.tower(role).encode(items, batch_size=batch_size, device=device, role=role)
