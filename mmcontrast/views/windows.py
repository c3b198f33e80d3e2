"""View ``sentence_windows``: B windows of T consecutive sentences, the input of contrastive predictive coding
(van den Oord et al. 2018) over documents."""

from __future__ import annotations

from typing import Any

from ..citations import CPC
from .base import View, ViewBatch
from .sentences import batch_sentences, randint, seeded


class SentenceWindows(View):
    """ViewBatch(query = the B * T sentences of B windows, window by window, ``sequence_length = T``): per row a
    window of ``length`` consecutive sentences starting at a uniform position (seeded, checkpointed). The encoder
    (``cpc``) embeds every sentence in one forward and forms its (prediction, target) pairs from the sequences;
    the other windows of the batch supply the negatives.

    Args:
        column: the sentence-list column (``documents`` rows: ``sentences``; rows need ``length`` sentences:
            ``data.train.min_sentences``).
        length: T, sentences per window (>= 2).
        seed: injected by the trainer.
    """

    card_summary = (
        "Sentence windows (CPC, van den Oord et al., 2018): windows of consecutive sentences of a document, the "
        "input of contrastive predictive coding"
    )
    citation = CPC
    tags = ("cpc",)

    def __init__(self, column: str = "sentences", length: int = 4, seed: int = 0) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 2:
            raise ValueError(f"sentence_windows: 'length' must be an integer >= 2, got {length!r}")
        self.column = column
        self.length = length
        self.generator = seeded(seed)

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        sentences: list[str] = []
        for doc in batch_sentences(batch, self.column, "sentence_windows", self.length):
            start = randint(len(doc) - self.length + 1, self.generator)
            sentences.extend(doc[start : start + self.length])
        return ViewBatch(query=sentences, sequence_length=self.length)
