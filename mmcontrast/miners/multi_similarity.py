"""Multi-similarity pair mining (Wang et al. 2019, "Multi-Similarity Loss with General Pair Weighting for Deep
Metric Learning", Sec. 4.1, eq. 7-8): keep the informative pairs, judged against the hardest pair of the other
kind."""

from __future__ import annotations

import torch

from ..citations import MULTI_SIMILARITY
from .base import Mined, Miner


class MultiSimilarityMiner(Miner):
    """A negative pair (a, n) is kept when c(a, n) > min_{p} c(a, p) - epsilon (closer than the hardest positive
    plus a margin); a positive pair (a, p) when c(a, p) < max_{n} c(a, n) + epsilon. An anchor without positives
    keeps no negatives, one without negatives keeps no positives.

    Args:
        epsilon: the margin (0.1 in the paper), in closeness units (the similarity, or the negated distance).
    """

    card_summary = (
        "multi-similarity mining (Wang et al., 2019): pairs kept when harder than the hardest opposite pair plus "
        "a margin"
    )
    citation = MULTI_SIMILARITY

    name = "multi_similarity"

    def __init__(self, epsilon: float = 0.1) -> None:
        self.epsilon = epsilon

    @torch.no_grad()
    def __call__(self, closeness: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> Mined:
        inf = torch.finfo(closeness.dtype).max
        hardest_positive = closeness.masked_fill(~positive, inf).amin(1, keepdim=True)
        hardest_negative = closeness.masked_fill(~negative, -inf).amax(1, keepdim=True)
        keep_negative = negative & (closeness > hardest_positive - self.epsilon) & positive.any(1, keepdim=True)
        keep_positive = positive & (closeness < hardest_negative + self.epsilon) & negative.any(1, keepdim=True)
        return Mined(positive_pairs=keep_positive, negative_pairs=keep_negative)
