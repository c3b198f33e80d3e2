"""Triplet loss with batch-hard mining (Hermans et al. 2017, "In Defense of the Triplet Loss for Person
Re-Identification"; triplet margin loss of Schroff et al. 2015, FaceNet)."""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..distributed import gather_no_grad
from ..negatives import Negatives
from .base import Objective
from .distances import Distance, pairwise_distance


def batch_hard_triplet(
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    pool: torch.Tensor,
    pool_labels: torch.Tensor,
    self_index: torch.Tensor,
    margin: float = 0.5,
    distance: Distance = "euclidean",
) -> torch.Tensor:
    """Batch-hard triplet loss: for each anchor, its farthest positive and its nearest negative in the pool.

    Args:
        anchors: (A, D), anchor_labels: (A,), pool: (M, D), pool_labels: (M,).
        self_index: (A,) column of each anchor in the pool (never its own positive).

    Returns:
        Scalar: mean over anchors with a positive and a negative of relu(d(a, p_hard) - d(a, n_hard) + margin).
    """
    dist = pairwise_distance(anchors, pool, distance)
    rows = torch.arange(anchors.shape[0], device=anchors.device)
    same = anchor_labels[:, None] == pool_labels[None, :]
    is_self = torch.zeros_like(same)
    is_self[rows, self_index] = True
    positive = same & ~is_self
    negative = ~same
    hardest_positive = dist.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = dist.masked_fill(~negative, float("inf")).amin(1)
    valid = positive.any(1) & negative.any(1)
    if not bool(valid.any()):
        raise ValueError("batch-hard triplet: no anchor has both a positive and a negative in the batch")
    losses = (hardest_positive - hardest_negative + margin).clamp_min(0)
    return losses[valid].mean()


class BatchHardTriplet(Objective):
    """Batch-hard triplet over ``EmbeddingBatch``.

    With labels, samples of the same label are positives. Without labels, ``query[i]`` and ``positive[i]``
    form a class of their own. Hard negatives (``negatives``) join the pool as negatives of every anchor.
    """

    def __init__(
        self,
        margin: float = 0.5,
        distance: Distance = "euclidean",
        normalize: bool = False,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.margin = margin
        self.distance = distance
        self.normalize = normalize

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        import torch.nn.functional as F

        views = [batch.query] if batch.positive is None else [batch.query, batch.positive]
        if self.normalize:
            views = [F.normalize(v, dim=-1) for v in views]
        pools, offset = [], 0
        for view in views:
            gathered, offset = self.negatives.gather(view)
            pools.append(gathered)
        n_global, n_local = pools[0].shape[0], batch.batch_size
        device = batch.query.device
        local = offset + torch.arange(n_local, device=device)
        if batch.labels is not None:
            labels = batch.labels
            global_labels = gather_no_grad(labels) if n_global != n_local else labels
        else:
            if batch.positive is None:
                raise ValueError("triplet loss needs labels or a positive view")
            labels, global_labels = local, torch.arange(n_global, device=device)
        pool, pool_labels = torch.cat(pools), global_labels.repeat(len(views))
        if batch.negatives is not None:
            flat = batch.negatives.reshape(-1, batch.negatives.shape[-1])
            hard = self.negatives.gather(F.normalize(flat, dim=-1) if self.normalize else flat)[0]
            unique = -1 - torch.arange(hard.shape[0], device=device)  # labels no anchor has
            pool, pool_labels = torch.cat([pool, hard]), torch.cat([pool_labels, unique])
        self_index = torch.cat([local + v * n_global for v in range(len(views))])
        return batch_hard_triplet(
            torch.cat(views), labels.repeat(len(views)), pool, pool_labels, self_index, self.margin, self.distance
        )
