"""View ``skipgram``: (center, context) rows -> query, positive and K unigram^0.75 noise words."""

from __future__ import annotations

from typing import Any

from .base import View, ViewBatch, column
from ..citations import WORD2VEC
from ..words.skipgram import NoiseSampler, load_vocabulary


class SkipGram(View):
    """ViewBatch(query = B center words, positive = B context words, negatives = K lists of B noise words drawn
    from the vocabulary's unigram distribution to the power ``power`` (3/4 in word2vec)).

    Args:
        vocabulary: the ``{path, min_count, limit}`` spec of the run.
        num_negatives: K noise words per pair (word2vec: 5 to 20 for small data).
        power: exponent of the unigram counts.
        seed: injected by the trainer; seeds the noise generator (checkpointed with the run).
    """

    card_summary = (
        "Skip-gram (word2vec, Mikolov et al., 2013): (center, context) word pairs with K noise words drawn from "
        "the unigram distribution to the power 3/4"
    )
    citation = WORD2VEC
    tags = ("word2vec",)

    def __init__(self, vocabulary: dict[str, Any], num_negatives: int = 5, power: float = 0.75,
                 center_column: str = "center", context_column: str = "context", seed: int = 0) -> None:
        if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 1:
            raise ValueError(f"skipgram: 'num_negatives' must be an integer >= 1, got {num_negatives!r}")
        self.vocabulary = load_vocabulary(vocabulary)
        self.noise = NoiseSampler(self.vocabulary.counts, power=power, seed=seed)
        self.generator = self.noise.generator
        self.k = num_negatives
        self.center_column, self.context_column = center_column, context_column

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        centers = list(column(batch, self.center_column, "skipgram"))
        contexts = list(column(batch, self.context_column, "skipgram"))
        noise = self.noise(len(centers), self.k).T.tolist()  # (K, B) ids
        words = self.vocabulary.words
        return ViewBatch(query=centers, positive=contexts, negatives=[[words[i] for i in row] for row in noise])
