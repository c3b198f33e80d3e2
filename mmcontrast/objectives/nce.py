"""Noise-contrastive estimation, binary form (Gutmann & Hyvarinen 2010, "Noise-contrastive estimation: A new
estimation principle for unnormalized statistical models"; Mnih & Teh 2012 for the fixed normaliser).

Instead of a softmax over candidates (InfoNCE), every (query, candidate) pair is a separate logistic
classification: is the candidate the query's data sample, or one of k noise samples drawn from a noise
distribution P_n? With the unnormalised model log p_m(c | q) = s(q, c) / tau - log Z, the classifier's log-odds
are

    G(q, c) = s(q, c) / tau - log Z - log(k P_n(c))

and the loss of a query is  -log sigmoid(G(q, c+)) - sum_{c in noise} log sigmoid(-G(q, c)).
Here the noise samples are the query's other candidates (in-batch positives of other queries, hard negatives,
a queue: the objective's ``Negatives``) and P_n is uniform over that pool of M candidates, so k P_n = (M-1)/M.
The normaliser is log Z = log M + c: at c = 0 a query that is equally similar (s = 0) to every candidate has the
uniform model p_m = 1/M = P_n. The offset c is fixed (``log_partition``, 0 by default: the self-normalised model
of Mnih & Teh) or learned (``learnable_partition``: Gutmann & Hyvarinen's normalising parameter). Together:
G = s / tau - c - log(M - 1). (Without the log M a pool of hundreds of candidates leaves every pair far on the noise
side at the start, and the noise terms swamp the positive's.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..batch import EmbeddingBatch
from ..citations import NCE
from ..negatives import Negatives
from .distances import Distance
from .info_nce import SoftmaxObjective, scaled_similarity


def nce(
    query: torch.Tensor,
    candidates: torch.Tensor,
    positive_index: torch.Tensor,
    temperature: float | torch.Tensor = 0.2,
    log_partition: float | torch.Tensor = 0.0,
    similarity: Distance = "dot",
) -> torch.Tensor:
    """Mean binary NCE loss of B queries against a shared pool of M candidates (uniform noise over the pool).

    Args:
        query: (B, D); candidates: (M, D); positive_index: (B,) long column of each query's data sample.
        temperature: tau; log_partition: c, the offset of log Z = log M + c.
        similarity: a kind of ``distances.DISTANCES`` (dot product by default; distances are negated).

    Returns:
        Scalar: mean_i [ -log sigmoid(G_i,p_i) - sum_{j != p_i} log sigmoid(-G_ij) ] with
        G_ij = s_ij / tau - (log M + c) - log((M - 1) / M) = s_ij / tau - c - log(M - 1).
    """
    m = candidates.shape[0]
    if m < 2:
        raise ValueError("NCE needs at least one noise candidate besides the positive (M >= 2)")
    log_z = math.log(m) + log_partition
    log_k_noise = math.log((m - 1) / m)  # log(k * P_n) with k = M - 1 noise samples, P_n = 1 / M
    logits = scaled_similarity(query, candidates, 1.0 / temperature, similarity) - log_z - log_k_noise
    target = torch.zeros_like(logits)
    target[torch.arange(logits.shape[0], device=logits.device), positive_index] = 1.0
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


class NCE(SoftmaxObjective):
    """Binary NCE over ``EmbeddingBatch(query, positive, negatives?)`` with noise from ``negatives``.

    Args:
        temperature: tau (fixed or ``learnable_temperature``, clamped to ``max_logit_scale``).
        log_partition: c in log Z = log M + c, fixed, or the initial value when ``learnable_partition``.
        learnable_partition: learn c (Gutmann & Hyvarinen's normalising parameter).
        normalize: L2-normalise embeddings; similarity: the kind compared after it (dot: cosine).
        negatives: where noise candidates come from (in-batch gathered across processes, a queue, ...).
    """

    card_summary = (
        "Binary noise-contrastive estimation (Gutmann & Hyvarinen, 2010): each candidate is classified as the "
        "query's data sample or noise"
    )
    citation = NCE
    tags = ("nce",)

    objective_name = "nce"

    def __init__(
        self,
        temperature: float = 0.2,
        log_partition: float = 0.0,
        learnable_partition: bool = False,
        learnable_temperature: bool = False,
        max_logit_scale: float = 100.0,
        normalize: bool = True,
        similarity: Distance = "dot",
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(temperature, learnable_temperature, max_logit_scale, normalize, negatives, similarity)
        value = torch.tensor(float(log_partition))
        if learnable_partition:
            self.log_partition = nn.Parameter(value)
        else:
            self.register_buffer("log_partition", value, persistent=False)

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        query, _, candidates, index = self.candidate_pool(batch, "NCE needs a positive (data sample) for every query")
        return nce(query, candidates, index, 1.0 / self.logit_scale(batch), self.log_partition, self.similarity)
