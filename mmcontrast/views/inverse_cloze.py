"""Inverse cloze task (Lee, Chang & Toutanova 2019, "Latent Retrieval for Weakly Supervised Open Domain
Question Answering", ORQA): a sentence is a pseudo-question, the passage around it is its evidence."""

from __future__ import annotations

from typing import Any

import torch

from ..citations import ICT
from .base import INDICES, View, ViewBatch
from .sentences import batch_sentences, randint, seeded


class InverseCloze(View):
    """ViewBatch(query = sentence ``s_i`` (B texts), positive = its context (B texts), indices).

    Per row, ``i`` is drawn uniformly; the context is the ``window`` sentences before and the ``window``
    after it in the same document (fewer at the document's edges), joined with ``separator``, with ``s_i``
    removed. With probability ``keep_probability`` ``s_i`` is kept in place instead: ORQA keeps it in 10% of
    the examples so that the encoders also learn word overlap. Other contexts of the batch are negatives.

    Args:
        column: the sentence-list column (``documents`` rows: ``sentences``; rows need >= 2 sentences).
        window: context sentences on each side of the query sentence.
        keep_probability: probability of leaving the query sentence in its context (ORQA: 0.1).
        separator: joins sentences into the context passage.
        seed: injected by the trainer; seeds ``self.generator``.
    """

    card_summary = (
        "Inverse cloze task (ORQA, Lee et al., 2019): a sentence is a pseudo-question and the passage around it, "
        "without it, is its positive"
    )
    citation = ICT
    tags = ("inverse-cloze-task",)

    generator: torch.Generator

    gives = frozenset({INDICES})

    def __init__(self, column: str = "sentences", window: int = 2, keep_probability: float = 0.0,
                 separator: str = " ", seed: int = 0) -> None:
        if window < 1:
            raise ValueError(f"inverse_cloze: window must be >= 1, got {window}")
        if not 0.0 <= keep_probability <= 1.0:
            raise ValueError(f"inverse_cloze: keep_probability must be in [0, 1], got {keep_probability}")
        self.column = column
        self.window = window
        self.keep_probability = keep_probability
        self.separator = separator
        self.generator = seeded(seed)

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        queries, contexts = [], []
        for sentences in batch_sentences(batch, self.column, "inverse_cloze", min_sentences=2):
            i = randint(len(sentences), self.generator)
            keep = float(torch.rand((), generator=self.generator)) < self.keep_probability
            lo, hi = max(0, i - self.window), min(len(sentences), i + self.window + 1)
            context = [s for p, s in enumerate(sentences[lo:hi], start=lo) if keep or p != i]
            queries.append(sentences[i])
            contexts.append(self.separator.join(context))
        return ViewBatch(query=queries, positive=contexts, indices=batch.get("index"))
