"""Circle loss (Sun et al. 2020, "Circle Loss: A Unified Perspective of Pair Similarity Optimization", eq. 6-8):
each similarity is weighted by how far it is from its optimum, so that a pair far from it gets a larger gradient.

For an anchor with positive similarities s_p and negative similarities s_n (cosine, in [-1, 1]):

    alpha_p = [1 + m - s_p]_+,  alpha_n = [s_n + m]_+     (weights, without gradient as in the authors' code)
    L = log(1 + sum_j exp(gamma alpha_n^j (s_n^j - m)) * sum_i exp(-gamma alpha_p^i (s_p^i - (1 - m))))

computed as softplus(logsumexp_n + logsumexp_p).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ..citations import CIRCLE
from ..negatives import Negatives
from .base import masked_fill_min
from .distances import Distance, check_kind
from .pair_loss import PairInputs, PairLoss
from .pool import global_batch_mean

if TYPE_CHECKING:
    from ..miners import Miner


def circle_terms(similarities: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 0.4,
                 gamma: float = 80.0) -> torch.Tensor:
    """Per-anchor circle loss (A,) from similarities (A, M) and boolean (A, M) positive / negative pair masks
    (an anchor without a positive or a negative gets 0)."""
    detached = similarities.detach()
    alpha_p = (1 + margin - detached).clamp_min(0)
    alpha_n = (detached + margin).clamp_min(0)
    logit_p = masked_fill_min(-gamma * alpha_p * (similarities - (1 - margin)), ~positive)
    logit_n = masked_fill_min(gamma * alpha_n * (similarities - margin), ~negative)
    terms = F.softplus(torch.logsumexp(logit_p, dim=1) + torch.logsumexp(logit_n, dim=1))
    return terms * (positive.any(1) & negative.any(1))


def circle(similarities: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 0.4,
           gamma: float = 80.0) -> torch.Tensor:
    """Circle loss: mean of ``circle_terms`` over the anchors that have a positive and a negative pair."""
    valid = positive.any(1) & negative.any(1)
    return circle_terms(similarities, positive, negative, margin, gamma).sum() / valid.sum().clamp_min(1)


class Circle(PairLoss):
    """Circle loss over ``EmbeddingBatch`` (labels, or a positive view as a class of two), anchors (local views)
    against the global pool of views; a miner selects the pairs.

    Args:
        margin: m, the relaxation (0.25 for faces, 0.4 for fine-grained retrieval in the paper).
        gamma: the scale (256 for faces, 80 for fine-grained retrieval).
        similarity: must lie in [-1, 1]: ``cosine``, or ``dot`` of normalised embeddings (``normalize``).
        normalize: L2-normalise first.
        miner: injected from the config's ``miner``, or None (all pairs).
    """

    card_summary = (
        "Circle loss (Sun et al., 2020): pair similarities weighted by their distance from their optimum, with a "
        "margin"
    )
    citation = CIRCLE
    tags = ("circle-loss",)

    objective_name = "circle"
    distance_key = "similarity"
    loss_description = "circle loss"
    accepted_distances = ("cosine", "dot")
    distance_requirement = "its optima 1 + m and -m assume a similarity in [-1, 1]"

    def __init__(
        self,
        margin: float = 0.4,
        gamma: float = 80.0,
        similarity: Distance = "dot",
        normalize: bool = True,
        negatives: Negatives | None = None,
        miner: Miner | None = None,
    ) -> None:
        super().__init__(similarity, normalize, negatives, miner)
        self.margin = margin
        self.gamma = gamma

    @classmethod
    def check_params(cls, params: dict[str, Any], name: str | None = None) -> None:
        super().check_params(params, name)
        if params.get("similarity", "dot") == "dot" and params.get("normalize", True) is False:
            check_kind(name or cls.objective_name, "similarity", "dot", ("cosine",),
                       cls.distance_requirement + ", and a dot product is bounded only with normalize: true")

    def loss(self, inputs: PairInputs) -> torch.Tensor:
        positive, negative = inputs.positive, inputs.negative
        terms = circle_terms(inputs.matrix, positive, negative, self.margin, self.gamma)
        return global_batch_mean(terms.sum(), (positive.any(1) & negative.any(1)).sum())
