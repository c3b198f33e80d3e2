"""Text pretext tasks: SimCSE (Gao, Yao & Chen 2021, "SimCSE: Simple Contrastive Learning of Sentence
Embeddings"), unsupervised and supervised."""

from __future__ import annotations

from typing import Any

from ..citations import SIMCSE
from .base import INDICES, View, ViewBatch, column


class SimCSEUnsupervised(View):
    """Dropout twins: every sentence is its own positive. The model encodes query and positive in ONE
    forward over the doubled batch, so the two views differ only by their dropout masks."""

    card_summary = (
        "Unsupervised SimCSE (Gao et al., 2021): every sentence is its own positive; the model encodes each "
        "sentence twice in one forward pass and the two views differ only by their dropout masks"
    )
    citation = SIMCSE
    tags = ("simcse",)
    gives = frozenset({INDICES})

    def __init__(self, column: str = "text") -> None:
        self.column = column

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        texts = list(column(batch, self.column, "simcse_unsup"))
        return ViewBatch(query=texts, positive=texts, indices=batch.get("index"))


class SimCSESupervised(View):
    """NLI triplets: anchor (premise), positive (entailment), and the contradiction as a hard negative."""

    card_summary = (
        "Supervised SimCSE (Gao et al., 2021): (anchor, positive[, hard negative]) rows, e.g. NLI premises with "
        "their entailment as the positive and their contradiction as a hard negative"
    )
    citation = SIMCSE
    tags = ("simcse",)
    gives = frozenset({INDICES})

    def __init__(self, anchor: str = "anchor", positive: str = "positive", negative: str | None = "negative") -> None:
        self.anchor, self.positive, self.negative = anchor, positive, negative

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        negatives = None
        if self.negative is not None:
            negatives = [list(column(batch, self.negative, "simcse_sup"))]
        return ViewBatch(
            query=list(column(batch, self.anchor, "simcse_sup")),
            positive=list(column(batch, self.positive, "simcse_sup")),
            negatives=negatives,
            indices=batch.get("index"),
        )
