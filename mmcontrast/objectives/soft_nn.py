"""Soft nearest neighbour loss (Frosst, Papernot & Hinton 2019, "Analyzing and Improving Representations with the
Soft Nearest Neighbor Loss", eq. 1): how likely a point's soft nearest neighbour (sampled in proportion to
exp(-d / T)) shares its class,

    L = -1/b sum_i log( sum_{j != i, y_j = y_i} exp(-d_ij / T) / sum_{k != i} exp(-d_ik / T) )

with d the squared Euclidean distance in the paper (any kind here: a similarity s gives exp(s / T)). Anchors
without a positive in the batch are left out of the mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import SOFT_NEAREST_NEIGHBOUR
from ..negatives import Negatives
from ..temperature import Temperature
from .base import Objective, masked_fill_min
from .distances import Distance
from .info_nce import scaled_similarity
from .pool import global_batch_mean, labelled_pool


def soft_nearest_neighbour_terms(logits: torch.Tensor, positive: torch.Tensor, is_self: torch.Tensor) -> torch.Tensor:
    """Per-anchor loss (A,) from scaled similarities (A, M) (= -d / T), positive (A, M) and self (A, M) masks
    (0 for an anchor without a positive)."""
    denominator = torch.logsumexp(masked_fill_min(logits, is_self), dim=1)
    numerator = torch.logsumexp(masked_fill_min(logits, ~positive), dim=1)
    return (denominator - numerator) * positive.any(1)


def soft_nearest_neighbour(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                           similarity: Distance = "squared_euclidean") -> torch.Tensor:
    """Soft nearest neighbour loss of one batch (b, D) with labels (b,), mean over anchors with a positive."""
    logits = scaled_similarity(embeddings, embeddings, 1.0 / temperature, similarity)
    is_self = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = (labels[:, None] == labels[None, :]) & ~is_self
    terms = soft_nearest_neighbour_terms(logits, positive, is_self)
    return terms.sum() / positive.any(1).sum().clamp_min(1)


class SoftNearestNeighbour(Objective):
    """Soft nearest neighbour loss over ``EmbeddingBatch`` (labels, or a positive view as a class of two): anchors
    (local views) against the global pool of views and hard negatives.

    Args:
        temperature: T (fixed, or learnable as a clamped log scale like the softmax objectives; the paper
            optimises it). 0.1 suits normalised embeddings (squared distances in [0, 4]).
        similarity: the kind compared after ``normalize`` (negated squared Euclidean distance in the paper).
        normalize: L2-normalise first (the paper does not; without it use a larger T).
    """

    card_summary = (
        "Soft nearest neighbour loss (Frosst et al., 2019): the log-probability of a same-class neighbour under a"
        " softmax over distances"
    )
    citation = SOFT_NEAREST_NEIGHBOUR
    tags = ("soft-nearest-neighbour-loss",)

    objective_name = "soft_nearest_neighbour"
    distance_key = "similarity"

    def __init__(
        self,
        temperature: float = 0.1,
        learnable_temperature: bool = False,
        max_logit_scale: float = 100.0,
        similarity: Distance = "squared_euclidean",
        normalize: bool = True,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.temperature = Temperature(temperature, learnable_temperature, max_logit_scale)
        self.similarity = similarity
        self.resolve_kind(similarity)
        self.normalize = normalize

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        transform = (lambda v: F.normalize(v, dim=-1)) if self.normalize else None
        lp = labelled_pool(batch, self.negatives, transform, "soft nearest neighbour loss", self)
        logits = scaled_similarity(lp.anchors, lp.pool, self.temperature.scale(), self.similarity)
        positive, _ = lp.masks()
        is_self = torch.zeros_like(positive)
        is_self[torch.arange(positive.shape[0], device=positive.device), lp.self_index] = True
        terms = soft_nearest_neighbour_terms(logits, positive, is_self)
        return global_batch_mean(terms.sum(), positive.any(1).sum())
