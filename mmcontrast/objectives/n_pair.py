"""Multi-class N-pair loss (Sohn 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss Objective").

N pairs (x_i, x_i+) from N different classes; each anchor x_i is contrasted with its own positive against the
positives of the other N - 1 classes:

    L = 1/N sum_i log(1 + sum_{j != i} exp(f_i . f_j+ - f_i . f_i+))  +  lambda/N sum_i (||f_i||^2 + ||f_i+||^2)

which is a softmax cross-entropy over the N positives with the raw dot product (temperature 1), plus Sohn's L2
regulariser on the (unnormalised) embeddings. With labels, a candidate of the anchor's own class other than its
positive is no negative (the N-pair batch assumes one pair per class): it is left out of the anchor's sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import N_PAIR
from ..negatives import Negatives
from .base import Objective, l2_normalize, masked_fill_min
from .distances import Distance
from .info_nce import scaled_similarity


def n_pair(
    anchors: torch.Tensor,
    candidates: torch.Tensor,
    positive_index: torch.Tensor,
    excluded: torch.Tensor | None = None,
    temperature: float = 1.0,
    similarity: Distance = "dot",
) -> torch.Tensor:
    """Mean N-pair term (without the regulariser) of B anchors over M candidates.

    Args:
        anchors: (B, D); candidates: (M, D); positive_index: (B,) long column of each anchor's positive.
        excluded: (B, M) bool, candidates left out of an anchor's sum (same class), or None.
        temperature: divides the similarities (1 in Sohn 2016).
        similarity: a kind of ``distances.DISTANCES`` (dot product in the paper).

    Returns:
        Scalar: mean_i log(1 + sum_{j != p_i, not excluded} exp(s_ij - s_i,p_i) / tau), i.e. the cross-entropy of
        the positive column.
    """
    logits = scaled_similarity(anchors, candidates, 1.0 / temperature, similarity)
    if excluded is not None:
        keep = torch.zeros_like(excluded)
        keep[torch.arange(logits.shape[0], device=logits.device), positive_index] = True
        logits = masked_fill_min(logits, excluded & ~keep)
    return F.cross_entropy(logits, positive_index)


class NPair(Objective):
    """Multi-class N-pair loss over ``EmbeddingBatch(query, positive, negatives?, labels?)``: candidates are the
    global batch's positives (gathered with gradient) and any hard negatives; with labels, same-class candidates
    other than the positive are left out.

    Args:
        l2_reg: lambda of the embedding L2 regulariser (mean over the local anchors and positives of ||f||^2).
        temperature: 1 in the paper.
        normalize: L2-normalise first (the paper does not: it regularises the norm instead).
        similarity: the kind compared (dot product in the paper).
        symmetric: average with the positive -> anchor direction.
    """

    card_summary = (
        "Multi-class N-pair loss (Sohn, 2016): a softmax over the batch's positives with an L2 penalty on the "
        "embeddings"
    )
    citation = N_PAIR
    tags = ("n-pair-loss",)

    objective_name = "n_pair"
    distance_key = "similarity"

    def __init__(
        self,
        l2_reg: float = 0.002,
        temperature: float = 1.0,
        normalize: bool = False,
        similarity: Distance = "dot",
        symmetric: bool = False,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.l2_reg = l2_reg
        self.temperature = temperature
        self.normalize = normalize
        self.similarity = similarity
        self.symmetric = symmetric
        self.resolve_kind(similarity)

    def keys(self, batch: EmbeddingBatch) -> torch.Tensor | None:
        return l2_normalize(batch.positive) if self.normalize else batch.positive

    def _direction(self, anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None,
                   labels: torch.Tensor | None, indices: torch.Tensor | None,
                   require_negatives: bool = False) -> torch.Tensor:
        candidates, index = self.negatives.candidates(positives, negatives, indices)
        if require_negatives:
            self.require_negatives(candidates.shape[0])
        excluded = None
        if labels is not None:  # labels of the positives' block, gathered as the positives were
            global_labels = self.negatives.gather(labels[:, None].float())[0].squeeze(1).round().long()
            excluded = torch.zeros(anchors.shape[0], candidates.shape[0], dtype=torch.bool, device=anchors.device)
            excluded[:, : global_labels.shape[0]] = labels[:, None] == global_labels[None, :]
        return n_pair(anchors, candidates, index, excluded, self.temperature, self.similarity)

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("N-pair loss needs a positive for every anchor (EmbeddingBatch.positive is None)")
        anchors, positives, negatives = batch.query, batch.positive, batch.negatives
        regulariser = (anchors.float().pow(2).sum(-1).mean() + positives.float().pow(2).sum(-1).mean())
        if self.normalize:
            anchors, positives, negatives = l2_normalize(anchors), l2_normalize(positives), l2_normalize(negatives)
        loss = self._direction(anchors, positives, negatives, batch.labels, batch.indices, require_negatives=True)
        if self.symmetric:
            loss = (loss + self._direction(positives, anchors, None, batch.labels, batch.indices)) / 2
        return loss + self.l2_reg * regulariser
