"""Batch-hard mining (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss for Person
Re-Identification"): for each anchor, its farthest positive and its nearest negative in the batch."""

from __future__ import annotations

import torch

from ..citations import BATCH_HARD
from .base import Mined, Miner


class BatchHardMiner(Miner):
    """One triplet per anchor that has a positive and a negative: (a, argmin_{p} closeness, argmax_{n}
    closeness). Ties go to the lowest column."""

    card_summary = "batch-hard mining (Hermans et al., 2017): each anchor's farthest positive and nearest negative"
    citation = BATCH_HARD

    name = "batch_hard"

    @torch.no_grad()
    def __call__(self, closeness: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> Mined:
        inf = torch.finfo(closeness.dtype).max
        hardest_positive = closeness.masked_fill(~positive, inf).argmin(1)
        hardest_negative = closeness.masked_fill(~negative, -inf).argmax(1)
        valid = positive.any(1) & negative.any(1)
        anchors = valid.nonzero().flatten()
        triplets = torch.stack([anchors, hardest_positive[anchors], hardest_negative[anchors]], dim=1)
        return Mined(triplets=triplets, shape=tuple(closeness.shape))
