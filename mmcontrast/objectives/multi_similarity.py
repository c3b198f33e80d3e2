"""Multi-similarity loss (Wang et al. 2019, "Multi-Similarity Loss with General Pair Weighting for Deep Metric
Learning", eq. 9): pairs weighted by their self-similarity and their relative similarity to the other pairs,

    L_i = 1/alpha log(1 + sum_{k in P_i} exp(-alpha (S_ik - lambda)))
        + 1/beta  log(1 + sum_{k in N_i} exp( beta (S_ik - lambda)))

averaged over the anchors of the batch. The paper's pair mining (its Sec. 4.1) is the ``multi_similarity``
miner; without a miner every pair counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..citations import MULTI_SIMILARITY
from ..negatives import Negatives
from .base import masked_fill_min
from .distances import Distance
from .pair_loss import PairInputs, PairLoss
from .pool import global_batch_mean

if TYPE_CHECKING:
    from ..miners import Miner


def multi_similarity_terms(similarities: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                           alpha: float = 2.0, beta: float = 50.0, base: float = 0.5) -> torch.Tensor:
    """Per-anchor loss L_i (A,) from similarities (A, M) and boolean (A, M) pair masks (an empty sum gives 0)."""
    pos = masked_fill_min(-alpha * (similarities - base), ~positive)
    neg = masked_fill_min(beta * (similarities - base), ~negative)
    pos_term = F.softplus(torch.logsumexp(pos, dim=1)) / alpha * positive.any(1)
    neg_term = F.softplus(torch.logsumexp(neg, dim=1)) / beta * negative.any(1)
    return pos_term + neg_term


def multi_similarity(similarities: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                     alpha: float = 2.0, beta: float = 50.0, base: float = 0.5) -> torch.Tensor:
    """Multi-similarity loss: mean over all A anchors of ``multi_similarity_terms``."""
    return multi_similarity_terms(similarities, positive, negative, alpha, beta, base).mean()


class MultiSimilarity(PairLoss):
    """Multi-similarity loss over ``EmbeddingBatch`` (labels, or a positive view as a class of two): anchors (local
    views) against the global pool of views; the mean runs over all anchors of the global batch.

    Args:
        alpha, beta: the positive and negative scales (2 and 50); base: lambda, the similarity margin (0.5).
        similarity: the kind compared after ``normalize`` (dot: cosine, as in the paper).
        miner: injected from the config's ``miner`` (the paper pairs it with ``multi_similarity``), or None.
    """

    card_summary = (
        "Multi-similarity loss (Wang et al., 2019): positive and negative pairs weighted by their self and "
        "relative similarities"
    )
    citation = MULTI_SIMILARITY
    tags = ("multi-similarity-loss",)

    objective_name = "multi_similarity"
    distance_key = "similarity"
    loss_description = "multi-similarity loss"

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        similarity: Distance = "dot",
        normalize: bool = True,
        negatives: Negatives | None = None,
        miner: Miner | None = None,
    ) -> None:
        super().__init__(similarity, normalize, negatives, miner)
        self.alpha, self.beta, self.base = alpha, beta, base

    def loss(self, inputs: PairInputs) -> torch.Tensor:
        terms = multi_similarity_terms(inputs.matrix, inputs.positive, inputs.negative, self.alpha, self.beta,
                                       self.base)
        return global_batch_mean(terms.sum(), terms.shape[0])
