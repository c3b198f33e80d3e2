"""Evaluator ``word_similarity``: Spearman correlation of embedding cosine with human word-pair scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Evaluator, encode_unique_texts
from ..words.skipgram import load_vocabulary, read_word_pairs, spearman_of_cosines


class WordSimilarityEvaluator(Evaluator):
    """Spearman correlation of cosine(word1, word2) of ``model.encode`` with human relatedness scores
    (``word1<TAB>word2<TAB>score`` lines). With a ``vocabulary`` the pairs with a word outside it are left out (an
    encoder that embeds any word, e.g. a subword text model, needs none). ``{name}/spearman`` (primary),
    ``{name}/pairs`` (pairs scored)."""

    primary = "spearman"

    def __init__(self, path: str | Path, vocabulary: dict[str, Any] | None = None, name: str = "word_similarity",
                 batch_size: int = 1024) -> None:
        super().__init__(name, batch_size)
        self.pairs = read_word_pairs(path)
        if vocabulary is not None:
            index = load_vocabulary(vocabulary).index
            self.pairs = [(a, b, s) for a, b, s in self.pairs if a in index and b in index]
        if len(self.pairs) < 3:
            raise ValueError(f"{path}: {len(self.pairs)} word pair(s) with both words in the vocabulary; need >= 3")

    def __call__(self, model: Any) -> dict[str, float]:
        embeddings, row = encode_unique_texts(model, [w for a, b, _ in self.pairs for w in (a, b)], self.batch_size,
                                              "words")
        items = [(embeddings[row[a]], embeddings[row[b]], s) for a, b, s in self.pairs]
        return {self.key("spearman"): spearman_of_cosines(items), self.key("pairs"): float(len(items))}


def word_similarity(path: str, vocabulary: dict[str, Any] | None = None, prefix: str = "word_similarity",
                    batch_size: int = 1024) -> WordSimilarityEvaluator:
    """Evaluator ``word_similarity``: Spearman of cosine with the scores of a word-pair file (e.g.
    ``tests/data/word_pairs.tsv``), optionally restricted to the pairs inside ``vocabulary``."""
    return WordSimilarityEvaluator(path, vocabulary, prefix, batch_size)
