"""Pairwise (Siamese) contrastive loss (Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning
an Invariant Mapping"): pull positive pairs together, push negative pairs beyond a margin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..batch import EmbeddingBatch
from ..citations import HADSELL
from ..negatives import Negatives
from .distances import NONNEGATIVE_DISTANCES, Distance
from .pair_loss import PairInputs, PairLoss
from .pool import global_batch_mean

if TYPE_CHECKING:
    from ..miners import Miner


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


class PairwiseContrastive(PairLoss):
    """Siamese contrastive loss over ``EmbeddingBatch(query, positive, negatives?)``.

    Without a miner: (query_i, positive_i) is a positive pair; query_i with every other candidate (other
    positives, hard negatives; gathered across processes) is a negative pair. With a miner (labels needed): every
    view of every sample is an anchor against the global pool of views, same-label pairs are positives, and the
    two terms are means over the mined pairs of the global batch.

    Args:
        margin: negatives closer than this are pushed out.
        distance: a kind that is 0 for identical embeddings and never negative (not ``dot``).
        negatives: candidate source (in-batch, gathered across processes, by default).
        miner: injected from the config's ``miner``, or None.
    """

    card_summary = (
        "Pairwise contrastive loss (Hadsell et al., 2006): positive pairs pulled together, negative pairs pushed "
        "beyond a margin"
    )
    citation = HADSELL
    tags = ("contrastive-loss",)

    objective_name = "pairwise_contrastive"
    loss_description = "pairwise contrastive loss with a miner"
    accepted_distances = NONNEGATIVE_DISTANCES
    distance_requirement = "its terms pull a distance to 0 and push it beyond a margin, so it needs a distance " \
                           "that is 0 for identical embeddings and never negative"

    def __init__(
        self,
        margin: float = 0.5,
        distance: Distance = "cosine",
        negatives: Negatives | None = None,
        miner: Miner | None = None,
    ) -> None:
        super().__init__(distance, False, negatives, miner)
        self.margin = margin

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if self.miner is not None:
            return super().forward(batch)
        if batch.positive is None:
            raise ValueError("pairwise contrastive loss needs a positive for every query")
        candidates, index = self.negatives.candidates(batch.positive, batch.negatives, batch.indices)
        distances = self.kind.distance(batch.query, candidates)
        is_positive = torch.zeros_like(distances, dtype=torch.bool)
        is_positive[torch.arange(batch.batch_size, device=distances.device), index] = True
        return pairwise_contrastive(distances.flatten(), is_positive.flatten(), self.margin)

    def loss(self, inputs: PairInputs) -> torch.Tensor:
        """With a miner: the two terms as means over the mined pairs of the global batch."""
        distances, positive, negative = inputs.matrix, inputs.positive, inputs.negative
        pos_term = global_batch_mean((distances**2 * positive).sum(), positive.sum())
        neg_term = global_batch_mean(((self.margin - distances).clamp_min(0) ** 2 * negative).sum(), negative.sum())
        return 0.5 * (pos_term + neg_term)
