"""Lifted structured loss (Oh Song, Xiang, Jegelka & Savarese 2016, "Deep Metric Learning via Lifted Structured
Feature Embedding", eq. 4): every positive pair (i, j) of the batch against ALL negatives of both i and j,

    J_ij = log( sum_{(i,k) in N} exp(alpha - D_ik) + sum_{(j,l) in N} exp(alpha - D_jl) ) + D_ij
    L    = 1 / (2 |P|) sum_{(i,j) in P} max(0, J_ij)^2

over unordered positive pairs P; here the sum runs over ordered pairs (each unordered pair twice, with the same
J), so L is half the mean of max(0, J)^2 over ordered pairs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..citations import LIFTED_STRUCTURED
from ..negatives import Negatives
from .base import masked_fill_min
from .distances import NONNEGATIVE_DISTANCES, Distance, get_distance
from .pair_loss import PairInputs, PairLoss
from .pool import global_batch_mean

if TYPE_CHECKING:
    from ..miners import Miner


def lifted_structured_terms(
    anchor_distances: torch.Tensor,
    pool_distances: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    pool_negative: torch.Tensor,
    margin: float = 1.0,
) -> torch.Tensor:
    """max(0, J_ij)^2 of every ordered pair (A, M), 0 where ``positive`` is False.

    Args:
        anchor_distances: (A, M) D between anchors and the pool; pool_distances: (M, M) D within the pool.
        positive: (A, M) bool, the pairs (i, j) of P; negative: (A, M) bool, the anchors' negatives N(i).
        pool_negative: (M, M) bool, the negatives N(j) of each pool row.
        margin: alpha.
    """
    anchor_term = torch.logsumexp(masked_fill_min(margin - anchor_distances, ~negative), dim=1)  # (A,)
    pool_term = torch.logsumexp(masked_fill_min(margin - pool_distances, ~pool_negative), dim=1)  # (M,)
    j = torch.logaddexp(anchor_term[:, None], pool_term[None, :]) + anchor_distances
    return F.relu(j).pow(2) * positive


def lifted_structured(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0,
                      distance: Distance = "euclidean") -> torch.Tensor:
    """Lifted structured loss of one batch (N, D) with labels (N,) (every sample an anchor and a pool row)."""
    d = get_distance(distance).distance(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    terms = lifted_structured_terms(d, d, positive, ~same, ~same, margin)
    return 0.5 * terms.sum() / positive.sum().clamp_min(1)


class LiftedStructured(PairLoss):
    """Lifted structured loss over ``EmbeddingBatch`` (labels, or a positive view as a class of two). Anchors are
    the local views, the pool the global batch's views (gathered with gradient); N(j) of a pool row j is all of
    its negatives in the pool. A miner selects the positive pairs and the anchors' negatives N(i).

    Args:
        margin: alpha (1 in the paper).
        distance: a kind that is 0 for identical embeddings and never negative (euclidean in the paper).
        normalize: L2-normalise first (the paper does not).
        miner: injected from the config's ``miner``, or None (all pairs).
    """

    card_summary = (
        "Lifted structured loss (Oh Song et al., 2016): each positive pair against a smooth maximum over the "
        "negatives of both its ends"
    )
    citation = LIFTED_STRUCTURED
    tags = ("lifted-structured-loss",)

    objective_name = "lifted_structured"
    loss_description = "lifted structured loss"
    accepted_distances = NONNEGATIVE_DISTANCES
    distance_requirement = "its J_ij adds D_ij to a log-sum of exp(alpha - D), which a distance that can go to " \
                           "minus infinity (dot) drives to minus infinity"

    def __init__(
        self,
        margin: float = 1.0,
        distance: Distance = "euclidean",
        normalize: bool = False,
        negatives: Negatives | None = None,
        miner: Miner | None = None,
    ) -> None:
        super().__init__(distance, normalize, negatives, miner)
        self.margin = margin

    def loss(self, inputs: PairInputs) -> torch.Tensor:
        pool = inputs.pool
        pool_distances = self.kind.distance(pool.pool, pool.pool)
        pool_negative = pool.pool_labels[:, None] != pool.pool_labels[None, :]
        terms = lifted_structured_terms(inputs.matrix, pool_distances, inputs.positive, inputs.negative,
                                        pool_negative, self.margin)
        return 0.5 * global_batch_mean(terms.sum(), inputs.positive.sum())
