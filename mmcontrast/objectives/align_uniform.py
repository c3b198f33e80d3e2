"""Alignment and uniformity as a training objective (Wang & Isola 2020, "Understanding Contrastive Representation
Learning through Alignment and Uniformity on the Hypersphere", Sec. 5):

    L = L_align(alpha) + lambda * (L_uniform(t; view 1) + L_uniform(t; view 2)) / 2
    L_align   = mean_i ||f(x_i) - f(y_i)||_2^alpha
    L_uniform = log mean_{i < j} exp(-t ||f(x_i) - f(x_j)||_2^2)

on L2-normalised embeddings (alpha = 2, t = 2, lambda = 1 in the paper). ``alignment`` and ``uniformity`` live
here and ``evaluation.alignment`` measures a model with them. Uniformity runs over the GLOBAL batch (gathered
with gradient): every process computes the same term, and the all-gather's backward sums its gradient back onto
the rows' owner.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import ALIGN_UNIFORM
from ..negatives import Negatives
from .base import Objective


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """Alignment loss: ``mean_i ||x_i - y_i||_2 ** alpha`` over L2-normalised rows (a 0-d tensor).

    ``x`` and ``y`` are (N, D) with row ``i`` of each forming positive pair ``i``. 0 for identical
    directions, ``2 ** alpha`` (4 for alpha=2) for antipodal ones.
    """
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"alignment: x and y must both be (N, D) with the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if x.shape[0] == 0:
        raise ValueError("alignment: no pairs (N = 0)")
    if not alpha > 0:
        raise ValueError(f"alignment: alpha must be > 0, got {alpha}")
    x, y = F.normalize(x.float(), dim=1), F.normalize(y.float(), dim=1)
    return (x - y).norm(p=2, dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """Uniformity loss: ``log mean_{i<j} exp(-t ||x_i - x_j||_2 ** 2)`` over L2-normalised rows (0-d tensor).

    ``x`` is (N, D), N >= 2; the N (N - 1) / 2 pairwise distances come from ``torch.pdist`` (memory
    O(N^2)). 0 when all rows point the same way; more negative the more uniformly they spread (for t=2,
    uniformly distributed points on a high-dimensional sphere approach -4). Computed with ``logsumexp``.
    """
    if x.dim() != 2:
        raise ValueError(f"uniformity: x must be (N, D), got {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"uniformity: needs at least 2 rows, got {x.shape[0]}")
    if not t > 0:
        raise ValueError(f"uniformity: t must be > 0, got {t}")
    x = F.normalize(x.float(), dim=1)
    sq_dist = torch.pdist(x, p=2).pow(2)  # (N (N - 1) / 2,)
    return torch.logsumexp(-t * sq_dist, dim=0) - math.log(sq_dist.numel())


def align_uniform(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0, t: float = 2.0,
                  lam: float = 1.0) -> torch.Tensor:
    """L_align(x, y) + lam * (L_uniform(x) + L_uniform(y)) / 2 of N positive pairs (N, D), (N, D)."""
    return alignment(x, y, alpha) + lam * (uniformity(x, t) + uniformity(y, t)) / 2


class AlignUniform(Objective):
    """Alignment + lambda * uniformity over ``EmbeddingBatch(query, positive)`` (labels and hard negatives are not
    used). Alignment is the mean over the local pairs; uniformity is over each view of the global batch.

    Args:
        alpha: the alignment exponent; t: the uniformity temperature; lam: lambda, the uniformity weight.
    """

    card_summary = (
        "Alignment and uniformity (Wang & Isola, 2020): positives pulled together while the embeddings spread "
        "uniformly over the hypersphere"
    )
    citation = ALIGN_UNIFORM
    tags = ("alignment-uniformity",)

    objective_name = "align_uniform"

    def __init__(self, alpha: float = 2.0, t: float = 2.0, lam: float = 1.0,
                 negatives: Negatives | None = None) -> None:
        super().__init__(negatives)
        if alpha <= 0 or t <= 0:
            raise ValueError(f"align_uniform: alpha and t must be > 0, got alpha={alpha}, t={t}")
        self.alpha, self.t, self.lam = alpha, t, lam

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("align_uniform needs a positive view (EmbeddingBatch.positive is None)")
        align = alignment(batch.query, batch.positive, self.alpha)
        uniform = sum(uniformity(self.negatives.gather(v)[0], self.t) for v in (batch.query, batch.positive))
        return align + self.lam * uniform / 2
