"""Supervised contrastive loss (Khosla et al. 2020, "Supervised Contrastive Learning"), the L_out form.

Every view of every sample is an anchor; all other views with the same label are its positives; all other
views are in its denominator. Views of the same sample share its label, so with unique labels it reduces to
NT-Xent.
"""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..citations import SUPCON
from ..distributed import gather_no_grad
from ..negatives import Negatives
from ..temperature import Temperature
from .base import Objective, l2_normalize, masked_fill_min
from .distances import Distance
from .info_nce import scaled_similarity


def supcon(
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    pool: torch.Tensor,
    pool_labels: torch.Tensor,
    self_index: torch.Tensor,
    temperature: float | torch.Tensor = 0.1,
    base_temperature: float | None = None,
    similarity: Distance = "dot",
) -> torch.Tensor:
    """SupCon L_out of A anchors against a pool that contains them.

    Args:
        anchors: (A, D) (L2-normalised for cosine similarity); anchor_labels: (A,).
        pool: (M, D); pool_labels: (M,).
        self_index: (A,) column of each anchor inside the pool (excluded from its sums).
        temperature: tau; base_temperature: the loss is scaled by tau / base_temperature (default 1).
        similarity: the similarity kind (dot product by default; distances are negated).

    Returns:
        Scalar: mean over anchors that have at least one positive of
        -1/|P(i)| sum_{p in P(i)} log softmax_{a != i}(s_ia / tau)_p.
    """
    logits = scaled_similarity(anchors, pool, 1.0 / temperature, similarity)
    rows = torch.arange(anchors.shape[0], device=anchors.device)
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[rows, self_index] = True
    logits = masked_fill_min(logits, is_self)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (anchor_labels[:, None] == pool_labels[None, :]) & ~is_self
    counts = positives.sum(1)
    has_positive = counts > 0
    if not bool(has_positive.any()):
        raise ValueError("SupCon: no anchor has a positive (every label is unique and there is one view)")
    mean_log_prob = (log_prob * positives).sum(1)[has_positive] / counts[has_positive]
    factor = 1.0 if base_temperature is None else float(temperature) / base_temperature
    return -factor * mean_log_prob.mean()


class SupCon(Objective):
    """SupCon over ``EmbeddingBatch(query, positive?, labels)``: one or two views per sample, labels required.
    ``similarity`` is the kind compared after ``normalize`` (dot, hence cosine, by default)."""

    card_summary = "Supervised contrastive loss (Khosla et al., 2020): all samples sharing a label are positives"
    citation = SUPCON
    tags = ("supcon",)

    objective_name = "supcon"
    distance_key = "similarity"

    def __init__(
        self,
        temperature: float = 0.1,
        base_temperature: float | None = None,
        learnable_temperature: bool = False,
        normalize: bool = True,
        similarity: Distance = "dot",
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.temperature = Temperature(temperature, learnable_temperature)
        self.base_temperature = base_temperature
        self.normalize = normalize
        self.similarity = similarity
        self.resolve_kind(similarity)

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.labels is None:
            raise ValueError("SupCon needs labels (EmbeddingBatch.labels is None)")
        views = [batch.query] if batch.positive is None else [batch.query, batch.positive]
        if self.normalize:
            views = [l2_normalize(v) for v in views]
        pools, offset = [], 0
        for view in views:
            gathered, offset = self.negatives.gather(view)
            pools.append(gathered)
        global_labels = gather_no_grad(batch.labels) if pools[0].shape[0] != batch.batch_size else batch.labels
        n_global, n_local = pools[0].shape[0], batch.batch_size
        self.require_negatives(len(views) * n_global - 1, len(views) - 1)  # label-free shape bound: one sample
        local = offset + torch.arange(n_local, device=batch.query.device)
        self_index = torch.cat([local + v * n_global for v in range(len(views))])
        return supcon(
            torch.cat(views),
            batch.labels.repeat(len(views)),
            torch.cat(pools),
            global_labels.repeat(len(views)),
            self_index,
            1.0 / self.temperature.scale(),
            self.base_temperature,
            self.similarity,
        )
