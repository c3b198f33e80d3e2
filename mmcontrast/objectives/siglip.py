"""SigLIP's pairwise sigmoid loss (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training").

Every (image i, text j) pair of the global batch is an independent binary problem: positive when j = i,
negative otherwise, with logit t * <x_i, y_j> + b (t the learnable scale, b a learnable bias initialised at -10
so that the many negatives do not dominate the first steps):

    L = -1/|B| sum_i sum_j log sigmoid(z_ij (t <x_i, y_j> + b)),   z_ij = 1 if i = j else -1.

No softmax couples the rows, so across processes each process sums over its own images against the texts of
every process (gathered WITH gradient; the paper exchanges text chunks between neighbouring devices instead,
which computes the same sum with less memory) and divides by its local batch: the mean of the processes' losses
is the single-process loss over the concatenated batch, and DDP's gradient averaging gives its gradient.
The logits and the sum are computed in float32 whatever the embeddings' dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..batch import EmbeddingBatch
from ..citations import SIGLIP
from ..negatives import Negatives
from ..temperature import Temperature
from .base import Objective, l2_normalize, normalized_roles
from .clip import model_or_fixed_scale
from .distances import Distance
from .info_nce import scaled_similarity


def sigmoid_loss(
    query: torch.Tensor,
    candidates: torch.Tensor,
    positive_index: torch.Tensor,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float,
    similarity: Distance = "dot",
) -> torch.Tensor:
    """Pairwise sigmoid loss of B queries against M candidates, summed over pairs and divided by B.

    Args:
        query: (B, D) (pass L2-normalised rows for cosine similarity).
        candidates: (M, D).
        positive_index: (B,) long, the column of each query's positive; every other column is a negative.
        logit_scale: t, the scale of the similarities.
        logit_bias: b.
        similarity: how ``q_i.c_j`` compares rows (``dot`` by default; any kind of ``distances.DISTANCES``, a
            distance negated).

    Returns:
        Scalar float32 loss ``-sum_ij log sigmoid(z_ij (t sim(q_i, c_j) + b)) / B``.
    """
    logits = scaled_similarity(query, candidates, logit_scale, similarity) + logit_bias  # (B, M) float32
    signs = -torch.ones_like(logits)
    signs[torch.arange(logits.shape[0], device=logits.device), positive_index] = 1.0
    return -F.logsigmoid(signs * logits).sum() / query.shape[0]


class SigLIP(Objective):
    """Pairwise sigmoid loss over ``EmbeddingBatch(query=images, positive=captions, logit_scale)``: each local
    image against every caption of the global batch (and any caption hard negatives).

    Args:
        bias: initial logit bias b (the paper: -10).
        learnable_bias: learn b (the paper does).
        temperature: a fixed tau, only for models without a logit scale of their own (default: the model's;
            for SigLIP set the dual encoder's ``temperature: 0.1``, the paper's initial scale 10).
        normalize: cosine similarity (L2-normalise embeddings).
        negatives: candidate source; in-batch, gathered across processes with gradient, by default.
        similarity: the kind compared after ``normalize`` (``dot``: cosine with ``normalize``, the paper's;
            ``euclidean``, ``squared_euclidean``, ``manhattan`` are negated distances).
    """

    card_summary = (
        "SigLIP loss (Zhai et al., 2023): pairwise sigmoid loss over every image-caption pair with a learned bias"
    )
    citation = SIGLIP
    tags = ("siglip",)

    uses_logit_scale = True  # reads EmbeddingBatch.logit_scale
    distance_key = "similarity"

    def __init__(
        self,
        bias: float = -10.0,
        learnable_bias: bool = True,
        temperature: float | None = None,
        normalize: bool = True,
        negatives: Negatives | None = None,
        similarity: Distance = "dot",
    ) -> None:
        super().__init__(negatives)
        self.similarity = similarity
        self.resolve_kind(similarity)
        value = torch.tensor(float(bias))
        if learnable_bias:
            self.bias = nn.Parameter(value)
        else:
            self.register_buffer("bias", value)
        self.fixed = Temperature(temperature) if temperature is not None else None
        self.normalize = normalize

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        query, positive, negatives = normalized_roles(batch, self.normalize, "SigLIP needs a positive for every query")
        candidates, index = self.negatives.candidates(positive, negatives, batch.indices)
        scale = model_or_fixed_scale(batch, self.fixed, "siglip")
        return sigmoid_loss(query, candidates, index, scale, self.bias, self.similarity)

    def keys(self, batch: EmbeddingBatch) -> torch.Tensor | None:
        return l2_normalize(batch.positive) if self.normalize else batch.positive
