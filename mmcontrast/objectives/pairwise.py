"""Pairwise (Siamese) contrastive loss (Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning
an Invariant Mapping"): pull positive pairs together, push negative pairs beyond a margin."""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..negatives import Negatives
from .base import Objective
from .distances import Distance, pairwise_distance


def pairwise_contrastive(distances: torch.Tensor, is_positive: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """Balanced contrastive loss over P pairs.

    Args:
        distances: (P,) distance of each pair; is_positive: (P,) bool.

    Returns:
        0.5 * ( mean_{positive} d^2 + mean_{negative} relu(margin - d)^2 ); a term with no pairs is 0.
        Averaging the two kinds separately keeps B positives from drowning in B^2 in-batch negatives.
    """
    zero = distances.new_zeros(())
    pos = distances[is_positive]
    neg = distances[~is_positive]
    pos_term = (pos**2).mean() if pos.numel() else zero
    neg_term = ((margin - neg).clamp_min(0) ** 2).mean() if neg.numel() else zero
    return 0.5 * (pos_term + neg_term)


class PairwiseContrastive(Objective):
    """Siamese contrastive loss over ``EmbeddingBatch(query, positive, negatives?)``: (query_i, positive_i) is
    a positive pair; query_i with every other candidate (other positives, hard negatives; gathered across
    processes) is a negative pair."""

    def __init__(
        self,
        margin: float = 0.5,
        distance: Distance = "cosine",
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.margin = margin
        self.distance = distance

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("pairwise contrastive loss needs a positive for every query")
        candidates, index = self.negatives.candidates(batch.positive, batch.negatives, batch.indices)
        distances = pairwise_distance(batch.query, candidates, self.distance)
        is_positive = torch.zeros_like(distances, dtype=torch.bool)
        is_positive[torch.arange(batch.batch_size, device=distances.device), index] = True
        return pairwise_contrastive(distances.flatten(), is_positive.flatten(), self.margin)
