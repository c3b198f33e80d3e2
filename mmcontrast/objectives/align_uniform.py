"""Alignment and uniformity as a training objective (Wang & Isola 2020, "Understanding Contrastive Representation
Learning through Alignment and Uniformity on the Hypersphere", Sec. 5):

    L = L_align(alpha) + lambda * (L_uniform(t; view 1) + L_uniform(t; view 2)) / 2
    L_align   = mean_i ||f(x_i) - f(y_i)||_2^alpha
    L_uniform = log mean_{i < j} exp(-t ||f(x_i) - f(x_j)||_2^2)

on L2-normalised embeddings (alpha = 2, t = 2, lambda = 1 in the paper). The same functions measure a model in
``evaluation.alignment``. Uniformity runs over the GLOBAL batch (gathered with gradient): every process computes
the same term, and the all-gather's backward sums its gradient back onto the rows' owner.
"""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..negatives import Negatives
from .base import Objective


def alignment_loss(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """mean_i ||x_i - y_i||_2^alpha over L2-normalised rows: (N, D), (N, D) -> scalar."""
    from ..evaluation.alignment import alignment

    return alignment(x, y, alpha)


def uniformity_loss(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """log mean_{i<j} exp(-t ||x_i - x_j||^2) over L2-normalised rows: (N, D), N >= 2 -> scalar."""
    from ..evaluation.alignment import uniformity

    return uniformity(x, t)


def align_uniform(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0, t: float = 2.0,
                  lam: float = 1.0) -> torch.Tensor:
    """L_align(x, y) + lam * (L_uniform(x) + L_uniform(y)) / 2 of N positive pairs (N, D), (N, D)."""
    return alignment_loss(x, y, alpha) + lam * (uniformity_loss(x, t) + uniformity_loss(y, t)) / 2


class AlignUniform(Objective):
    """Alignment + lambda * uniformity over ``EmbeddingBatch(query, positive)`` (labels and hard negatives are not
    used). Alignment is the mean over the local pairs; uniformity is over each view of the global batch.

    Args:
        alpha: the alignment exponent; t: the uniformity temperature; lam: lambda, the uniformity weight.
    """

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
        align = alignment_loss(batch.query, batch.positive, self.alpha)
        uniform = sum(uniformity_loss(self.negatives.gather(v)[0], self.t) for v in (batch.query, batch.positive))
        return align + self.lam * uniform / 2
