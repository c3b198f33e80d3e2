"""InfoNCE (van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding") and
NT-Xent (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations").

InfoNCE contrasts each query with a candidate pool (its positive, the other positives, hard negatives);
the symmetric form (CLIP, Radford et al. 2021) adds the positive -> query direction. NT-Xent treats both views
as anchors and contrasts each against all 2N - 1 other views of the (global) batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import CPC, SIMCLR
from ..negatives import Negatives
from ..temperature import Temperature
from .base import Objective, l2_normalize, masked_fill_min, normalized_roles, similarity_logits
from .distances import Distance, get_distance
from .info_nce_kernel import can_fuse, fused_dot_info_nce


def info_nce(
    query: torch.Tensor,
    candidates: torch.Tensor,
    positive_index: torch.Tensor,
    temperature: float | torch.Tensor = 0.07,
    exclude_index: torch.Tensor | None = None,
    similarity: Distance = "dot",
) -> torch.Tensor:
    """Mean InfoNCE loss of B queries over a shared candidate pool.

    loss_i = -log( exp(s(q_i, c_{p_i}) / tau) / sum_{j != e_i} exp(s(q_i, c_j) / tau) ), with s the dot product
    (pass L2-normalised rows for cosine similarity) or any kind of ``distances.DISTANCES`` (a distance is negated).

    Args:
        query: (B, D).
        candidates: (M, D).
        positive_index: (B,) long, the column of each query's positive.
        temperature: tau, a float or a scalar tensor.
        exclude_index: (B,) long, a column to drop from each row's softmax (the query itself when the
            queries are part of the pool, as in NT-Xent), or None.
        similarity: the similarity kind (default: dot product).

    Returns:
        Scalar loss (float32).
    """
    if similarity == "dot" and can_fuse(query, candidates):  # same loss, one (B, M) buffer: info_nce_kernel.py
        return fused_dot_info_nce(query, candidates, positive_index, 1.0 / temperature, exclude_index)
    logits = scaled_similarity(query, candidates, 1.0 / temperature, similarity)
    if exclude_index is not None:
        mask = torch.zeros_like(logits, dtype=torch.bool)
        mask[torch.arange(logits.shape[0], device=logits.device), exclude_index] = True
        logits = masked_fill_min(logits, mask)
    return F.cross_entropy(logits, positive_index)


def scaled_similarity(query: torch.Tensor, candidates: torch.Tensor, scale: torch.Tensor | float,
                      similarity: Distance = "dot") -> torch.Tensor:
    """(B, D) x (M, D) -> (B, M) float32 similarities times ``scale`` (the dot product exactly as
    ``similarity_logits``; other kinds from ``distances.DISTANCES``, distances negated)."""
    if similarity == "dot":
        return similarity_logits(query, candidates, scale)
    return get_distance(similarity).similarity(query, candidates) * scale


def nt_xent(view1: torch.Tensor, view2: torch.Tensor, temperature: float | torch.Tensor = 0.5,
            similarity: Distance = "dot") -> torch.Tensor:
    """NT-Xent over two views of N samples: (N, D), (N, D) -> scalar. Rows are used as given (normalise first
    for cosine similarity). With all 2N embeddings identical the loss is log(2N - 1)."""
    pool = torch.cat([view1, view2], dim=0)
    n = view1.shape[0]
    rows = torch.arange(2 * n, device=view1.device)
    positive_index = torch.cat([rows[n:], rows[:n]])
    return info_nce(pool, pool, positive_index, temperature, exclude_index=rows, similarity=similarity)


class SoftmaxObjective(Objective):
    """Shared settings of softmax-over-candidates objectives: temperature (fixed or learnable, clamped),
    L2 normalisation (``normalize``) and the similarity kind applied after it (``similarity``: dot by default,
    hence cosine with ``normalize``; euclidean, squared_euclidean and manhattan distances are negated)."""

    distance_key = "similarity"

    def __init__(
        self,
        temperature: float,
        learnable_temperature: bool,
        max_logit_scale: float,
        normalize: bool,
        negatives: Negatives | None,
        similarity: Distance = "dot",
    ) -> None:
        super().__init__(negatives)
        self.temperature = Temperature(temperature, learnable_temperature, max_logit_scale)
        self.normalize = normalize
        self.similarity = similarity
        self.resolve_kind(similarity)

    def logit_scale(self, batch: EmbeddingBatch) -> torch.Tensor:
        """The scale 1/tau of this batch's logits: the objective's own temperature (``clip`` takes the model's)."""
        return self.temperature.scale()

    def keys(self, batch: EmbeddingBatch) -> torch.Tensor | None:
        """Positives L2-normalised when the similarity is cosine, so a MoCo queue holds unit keys."""
        return l2_normalize(batch.positive) if self.normalize else batch.positive

    def candidate_pool(self, batch: EmbeddingBatch,
                       needs: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(query (B, D), positive (B, D), candidates (M, D), positive index (B,)): the roles of ``batch``
        (normalised with ``normalize``) and the candidate pool of ``negatives``, which must hold a negative
        (``require_negatives``). ``needs``: the start of the error of a batch without a positive."""
        query, positive, negatives = normalized_roles(batch, self.normalize, needs)
        candidates, index = self.negatives.candidates(positive, negatives, batch.indices)
        self.require_negatives(candidates.shape[0])
        return query, positive, candidates, index


class InfoNCE(SoftmaxObjective):
    """InfoNCE over ``EmbeddingBatch(query, positive, negatives?)`` with candidates from ``negatives``.

    Args:
        temperature: tau (SimCSE 0.05, MoCo 0.2, CLIP init 0.07).
        symmetric: average with the positive -> query direction (CLIP).
        scale_by_temperature: multiply the loss by 2 * tau (MoCo v3, Chen et al. 2021: keeps the gradient scale
            independent of tau).
        learnable_temperature: learn log(1/tau), clamped to ``max_logit_scale``.
        normalize: cosine similarity (L2-normalise embeddings) instead of the raw dot product.
        similarity: the kind compared after ``normalize`` (dot; cosine, euclidean, squared_euclidean, manhattan).
        negatives: candidate source; in-batch gathered across processes by default.
    """

    card_summary = (
        "InfoNCE (van den Oord et al., 2018): softmax cross-entropy of each query against its positive among all "
        "candidates"
    )
    citation = CPC
    tags = ("info-nce",)

    objective_name = "info_nce"

    def __init__(
        self,
        temperature: float = 0.05,
        symmetric: bool = False,
        scale_by_temperature: bool = False,
        learnable_temperature: bool = False,
        max_logit_scale: float = 100.0,
        normalize: bool = True,
        similarity: Distance = "dot",
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(temperature, learnable_temperature, max_logit_scale, normalize, negatives, similarity)
        self.symmetric = symmetric
        self.scale_by_temperature = scale_by_temperature

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        query, positive, candidates, index = self.candidate_pool(batch, "InfoNCE needs a positive view for every query")
        tau = 1.0 / self.logit_scale(batch)
        loss = info_nce(query, candidates, index, tau, similarity=self.similarity)
        if self.symmetric:
            reverse_candidates, reverse_index = self.negatives.candidates(query, None, batch.indices)
            loss = (loss + info_nce(positive, reverse_candidates, reverse_index, tau, similarity=self.similarity)) / 2
        return loss * (2 * tau) if self.scale_by_temperature else loss


class NTXent(SoftmaxObjective):
    """NT-Xent (SimCLR): both views are anchors; each is contrasted with all other 2N - 1 views of the
    global batch (gathered with gradient through ``negatives``). ``similarity`` as in ``InfoNCE``."""

    card_summary = (
        "NT-Xent (Chen et al., 2020): both views are anchors, each contrasted with the 2N - 1 other views of the "
        "batch"
    )
    citation = SIMCLR
    tags = ("simclr",)

    objective_name = "nt_xent"

    def __init__(
        self,
        temperature: float = 0.5,
        learnable_temperature: bool = False,
        max_logit_scale: float = 100.0,
        normalize: bool = True,
        similarity: Distance = "dot",
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(temperature, learnable_temperature, max_logit_scale, normalize, negatives, similarity)

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        view1, view2, _ = normalized_roles(batch, self.normalize, "NT-Xent needs two views")
        pool1, offset = self.negatives.gather(view1)
        pool2, _ = self.negatives.gather(view2)
        n_global, n_local = pool1.shape[0], view1.shape[0]
        self.require_negatives(2 * n_global - 1)  # the pool less the anchor itself
        local = offset + torch.arange(n_local, device=view1.device)
        anchors = torch.cat([view1, view2], dim=0)
        pool = torch.cat([pool1, pool2], dim=0)
        positive_index = torch.cat([local + n_global, local])
        exclude_index = torch.cat([local, local + n_global])
        return info_nce(anchors, pool, positive_index, 1.0 / self.temperature.scale(), exclude_index, self.similarity)
