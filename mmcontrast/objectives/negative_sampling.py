"""Skip-gram negative sampling (SGNS; Mikolov et al. 2013, "Distributed Representations of Words and Phrases and
their Compositionality"), eq. 4: ``-log sigmoid(q.p) - sum_k log sigmoid(-q.n_k)`` on raw dot products, averaged
over the B rows. The K negatives of each row are the view's noise words (unigram^0.75, view ``skipgram``), not
other rows of the batch, so the negatives component must be ``none``."""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..citations import WORD2VEC
from ..negatives import Negatives, NoNegatives
from ..words.skipgram import negative_sampling_loss
from .base import Objective


class NegativeSampling(Objective):
    """SGNS over EmbeddingBatch(query (B, D), positive (B, D), negatives (B, K, D)) -> scalar."""

    card_summary = (
        "Skip-gram negative sampling (Mikolov et al., 2013): a logistic loss of each (center, context) pair "
        "against K noise words"
    )
    citation = WORD2VEC
    tags = ("word2vec",)

    objective_name = "negative_sampling"

    def __init__(self, negatives: Negatives | None = None) -> None:
        if negatives is not None and not isinstance(negatives, NoNegatives):
            raise ValueError("objective 'negative_sampling' scores each pair against the view's own noise words "
                             f"(batch.negatives): set negatives: {{name: none}} (got {type(negatives).__name__})")
        super().__init__(NoNegatives())

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.negatives is None:
            raise ValueError("objective 'negative_sampling' needs noise words as negatives (B, K, D): use view "
                             "'skipgram' (num_negatives)")
        return negative_sampling_loss(batch)
