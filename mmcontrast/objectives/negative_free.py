"""Objectives without negatives: BYOL, SimSiam, Barlow Twins, VICReg.

BYOL and SimSiam compare an online prediction with a target that gets no gradient (a momentum encoder or a
stop-gradient, composed as ``target:`` in the config, never inside the loss). Barlow Twins and VICReg
regularise the statistics of the global batch, which they gather across processes WITH gradient: every
process computes the same global loss, the all-gather backward sums the W identical gradients onto each row's
owner and DDP divides by W, which gives exactly the single-process gradient over the concatenated batch.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import BARLOW_TWINS, BYOL, SIMSIAM, VICREG
from ..distributed import gather_with_grad
from ..negatives import Negatives
from .base import Objective


def _two_views(batch: EmbeddingBatch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if batch.positive is None:
        raise ValueError(f"{name} needs two views (EmbeddingBatch.positive is None)")
    return batch.query, batch.positive


def byol_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BYOL (Grill et al. 2020): mean of ``2 - 2 cos(p_i, z'_i)`` over rows; (B, D), (B, D) -> scalar."""
    return (2 - 2 * F.cosine_similarity(prediction.float(), target.float(), dim=-1)).mean()


def negative_cosine(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SimSiam (Chen & He 2021): mean of ``-cos(p_i, z_i)``; (B, D), (B, D) -> scalar in [-1, 1]."""
    return -F.cosine_similarity(prediction.float(), target.float(), dim=-1).mean()


def _off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    n = matrix.shape[0]
    return matrix.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, lambda_offdiag: float = 5e-3) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021): (N, D), (N, D) -> scalar.

    Each dimension is standardised over the batch; ``C = z1n^T z2n / N`` (D, D) is pushed to the identity:
    ``sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2``.
    """
    z1, z2 = z1.float(), z2.float()
    n = z1.shape[0]
    if n < 2:
        raise ValueError("Barlow Twins needs at least 2 samples to standardise over the batch")
    z1n = (z1 - z1.mean(0)) / z1.std(0, unbiased=False).clamp_min(1e-6)
    z2n = (z2 - z2.mean(0)) / z2.std(0, unbiased=False).clamp_min(1e-6)
    c = z1n.T @ z2n / n
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    return on_diag + lambda_offdiag * _off_diagonal(c).pow(2).sum()


def vicreg(
    z1: torch.Tensor,
    z2: torch.Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    """VICReg (Bardes et al. 2022): (N, D), (N, D) -> scalar.

    invariance = MSE(z1, z2); variance = mean_d relu(1 - sqrt(Var z_d + eps)) per branch (halved sum);
    covariance = sum of squared off-diagonal covariances / D per branch.
    """
    z1, z2 = z1.float(), z2.float()
    n, d = z1.shape
    if n < 2:
        raise ValueError("VICReg needs at least 2 samples for its variance and covariance terms")
    invariance = F.mse_loss(z1, z2)
    z1c, z2c = z1 - z1.mean(0), z2 - z2.mean(0)
    std1, std2 = torch.sqrt(z1c.var(0) + eps), torch.sqrt(z2c.var(0) + eps)
    variance = F.relu(1 - std1).mean() / 2 + F.relu(1 - std2).mean() / 2
    cov1, cov2 = z1c.T @ z1c / (n - 1), z2c.T @ z2c / (n - 1)
    covariance = _off_diagonal(cov1).pow(2).sum() / d + _off_diagonal(cov2).pow(2).sum() / d
    return invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance


class TwoViewRegression(Objective):
    """A regression loss ``pair_loss(query, positive)`` ((B, D), (B, D) -> scalar) between the two views; the
    error for a batch without a positive names the class."""

    pair_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        return type(self).pair_loss(*_two_views(batch, type(self).__name__))


class BYOL(TwoViewRegression):
    """BYOL regression loss between ``query`` (online prediction) and ``positive`` (target projection).

    Compose with ``predictor: {name: mlp, ...}``, ``target: {name: momentum}`` and ``symmetric: sum``."""

    card_summary = "BYOL (Grill et al., 2020): the online prediction regresses the target projection"
    citation = BYOL
    tags = ("byol",)
    pair_loss = staticmethod(byol_loss)


class SimSiam(TwoViewRegression):
    """SimSiam negative cosine between ``query`` (prediction) and ``positive`` (stop-gradient projection).

    Compose with ``predictor``, ``target: {name: stop_gradient}`` and ``symmetric: mean``."""

    card_summary = "SimSiam (Chen & He, 2021): negative cosine between prediction and stop-gradient projection"
    citation = SIMSIAM
    tags = ("simsiam",)
    pair_loss = staticmethod(negative_cosine)


class BarlowTwins(Objective):
    """Barlow Twins over the global batch (gathered with gradient when ``gather``).

    Args:
        lambda_offdiag: weight of the redundancy-reduction term (paper: 5e-3).
        gather: standardise and correlate over all processes' rows (as the paper's global batch).
    """

    card_summary = "Barlow Twins (Zbontar et al., 2021): cross-correlation of the two views pushed to the identity"
    citation = BARLOW_TWINS
    tags = ("barlow-twins",)

    def __init__(self, lambda_offdiag: float = 5e-3, gather: bool = True, negatives: Negatives | None = None) -> None:
        super().__init__(negatives)
        self.lambda_offdiag = lambda_offdiag
        self.gather = gather

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        z1, z2 = _two_views(batch, "Barlow Twins")
        if self.gather:
            z1, z2 = gather_with_grad(z1)[0], gather_with_grad(z2)[0]
        return barlow_twins(z1, z2, self.lambda_offdiag)


class VICReg(Objective):
    """VICReg: invariance on the local rows (its mean over processes is the global mean), variance and
    covariance over the global batch (gathered with gradient when ``gather``). Paper weights 25 / 25 / 1."""

    card_summary = "VICReg (Bardes et al., 2022): invariance, variance and covariance terms"
    citation = VICREG
    tags = ("vicreg",)

    def __init__(
        self,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        gather: bool = True,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.weights = (invariance_weight, variance_weight, covariance_weight)
        self.gather = gather

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        z1, z2 = _two_views(batch, "VICReg")
        inv_w, var_w, cov_w = self.weights
        invariance = inv_w * F.mse_loss(z1.float(), z2.float())
        if self.gather:
            z1, z2 = gather_with_grad(z1)[0], gather_with_grad(z2)[0]
        return invariance + vicreg(z1, z2, 0.0, var_w, cov_w)
