"""Triplet margin loss (Schroff et al. 2015, FaceNet) with batch-hard mining by default (Hermans et al. 2017,
"In Defense of the Triplet Loss for Person Re-Identification"), or over the triplets of any miner."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..citations import BATCH_HARD
from ..negatives import Negatives
from .distances import Distance, pairwise_distance
from .pair_loss import PairInputs, PairLoss
from .pool import global_batch_mean

if TYPE_CHECKING:
    from ..miners import Miner


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
        distance: any registered kind (``distances.DISTANCES``), used as a distance.

    Returns:
        Scalar: mean over anchors with a positive and a negative of relu(d(a, p_hard) - d(a, n_hard) + margin).
    """
    dist = pairwise_distance(anchors, pool, distance)
    rows = torch.arange(anchors.shape[0], device=anchors.device)
    same = anchor_labels[:, None] == pool_labels[None, :]
    is_self = torch.zeros_like(same)
    is_self[rows, self_index] = True
    return batch_hard_triplet_of_distances(dist, same & ~is_self, ~same, margin)


def batch_hard_triplet_of_distances(distances: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                                    margin: float = 0.5) -> torch.Tensor:
    """``batch_hard_triplet`` from the (A, M) anchor x pool distances and boolean (A, M) positive / negative
    masks: the mean over anchors with a positive and a negative of relu(d(a, p_hard) - d(a, n_hard) + margin)."""
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = distances.masked_fill(~negative, float("inf")).amin(1)
    valid = positive.any(1) & negative.any(1)
    if not bool(valid.any()):
        raise ValueError("batch-hard triplet: no anchor has both a positive and a negative in the batch")
    losses = (hardest_positive - hardest_negative + margin).clamp_min(0)
    return losses[valid].mean()


def triplet_margin(distances: torch.Tensor, triplets: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """Sum of the triplet margin loss over mined triplets.

    Args:
        distances: (A, M) anchor x pool distances.
        triplets: (T, 3) long rows (anchor, positive column, negative column).

    Returns:
        Scalar: sum_t relu(d(a_t, p_t) - d(a_t, n_t) + margin) (divide by T, or the global T, for the mean).
    """
    a, p, n = triplets.unbind(1)
    return (distances[a, p] - distances[a, n] + margin).clamp_min(0).sum()


class BatchHardTriplet(PairLoss):
    """Triplet margin loss over ``EmbeddingBatch``.

    With labels, samples of the same label are positives. Without labels, ``query[i]`` and ``positive[i]``
    form a class of their own. Hard negatives (``negatives``) join the pool as negatives of every anchor. Without
    a miner each anchor gives one batch-hard triplet; with one (``miner: {name: semi_hard}``, ...) the loss is the
    mean over the mined triplets of the global batch (0 when none is mined).

    Args:
        margin: the triplet margin, in the distance's units.
        distance: any registered kind (``dot`` as the distance -a.b).
        normalize: L2-normalise embeddings first.
        negatives: where the pool comes from (in-batch, gathered across processes, by default).
        miner: injected from the config's ``miner``, or None for batch-hard.
    """

    card_summary = (
        "Batch-hard triplet loss (Hermans et al., 2017): each anchor's hardest positive closer than its hardest "
        "negative by a margin (or the miner's triplets)"
    )
    citation = BATCH_HARD
    tags = ("triplet-loss",)

    objective_name = "triplet"
    loss_description = "triplet loss"
    mined_as = "triplets"

    def __init__(
        self,
        margin: float = 0.5,
        distance: Distance = "euclidean",
        normalize: bool = False,
        negatives: Negatives | None = None,
        miner: Miner | None = None,
    ) -> None:
        super().__init__(distance, normalize, negatives, miner)
        self.margin = margin

    def loss(self, inputs: PairInputs) -> torch.Tensor:
        if inputs.triplets is None:
            return batch_hard_triplet_of_distances(inputs.matrix, inputs.positive, inputs.negative, self.margin)
        return global_batch_mean(triplet_margin(inputs.matrix, inputs.triplets, self.margin), inputs.triplets.shape[0])
