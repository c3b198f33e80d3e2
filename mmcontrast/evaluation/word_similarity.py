"""Evaluator ``word_similarity``: Spearman correlation of embedding cosine with human word-pair scores, and
whether related words are each other's nearest neighbours in the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .base import Evaluator, encode, encode_unique_texts
from ..words.skipgram import load_vocabulary, read_word_pairs, spearman_of_cosines


def nearest_words(embeddings: torch.Tensor, words: list[str], queries: list[str], k: int) -> dict[str, list[str]]:
    """The ``k`` most cosine-similar words of each query word among ``words`` (the query itself excluded).

    Args:
        embeddings: (V, D) one row per word of ``words``.
        words: the V words; ``queries`` must be among them.
    """
    index = {w: i for i, w in enumerate(words)}
    unit = F.normalize(embeddings.float(), dim=1)
    rows = torch.tensor([index[q] for q in queries], dtype=torch.long)
    scores = unit[rows] @ unit.T  # (Q, V)
    scores[torch.arange(len(queries)), rows] = float("-inf")
    top = scores.topk(min(k, len(words) - 1), dim=1).indices
    return {q: [words[j] for j in row] for q, row in zip(queries, top.tolist())}


class WordSimilarityEvaluator(Evaluator):
    """Spearman correlation of cosine(word1, word2) of ``model.encode`` with human relatedness scores
    (``word1<TAB>word2<TAB>score`` lines). With a ``vocabulary`` the pairs with a word outside it are left out (an
    encoder that embeds any word, e.g. a subword text model, needs none), and the nearest neighbours of the pair
    words are searched among the whole vocabulary: of the related pairs (score >= ``related_score``), the
    fraction, over both directions, whose partner is among the word's ``k`` nearest neighbours.

    Returns ``{name}/spearman`` (primary), ``{name}/pairs`` (pairs scored) and, with a vocabulary,
    ``{name}/neighbour_recall@{k}``; ``last_neighbours`` keeps each pair word's ``k`` neighbours of the last call
    (for people who would rather read the neighbours than a number).
    """

    primary = "spearman"

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``word_similarity``: a word-pair file ``path`` (e.g.
        ``tests/data/word_pairs.tsv``), optionally restricted to the pairs inside ``vocabulary``, whose words are
        then also the candidates of the nearest-neighbour recall (``k``, pairs scored >= ``related_score``)."""

        path: str
        vocabulary: dict[str, Any] | None = None
        prefix: str = "word_similarity"
        batch_size: int = 1024
        k: int = 10
        related_score: float = 7.0

    def __init__(self, path: str | Path, vocabulary: dict[str, Any] | None = None, name: str = "word_similarity",
                 batch_size: int = 1024, k: int = 10, related_score: float = 7.0) -> None:
        super().__init__(name, batch_size)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"word_similarity: 'k' must be a positive integer, got {k!r}")
        self.pairs = read_word_pairs(path)
        self.words: list[str] | None = None
        if vocabulary is not None:
            vocab = load_vocabulary(vocabulary)
            self.pairs = [(a, b, s) for a, b, s in self.pairs if a in vocab.index and b in vocab.index]
            self.words = list(vocab.words)
        if len(self.pairs) < 3:
            raise ValueError(f"{path}: {len(self.pairs)} word pair(s) with both words in the vocabulary; need >= 3")
        self.k = k
        self.related = [(a, b) for a, b, s in self.pairs if s >= related_score]
        self.last_neighbours: dict[str, list[str]] = {}

    def __call__(self, model: Any) -> dict[str, float]:
        pair_words = [w for a, b, _ in self.pairs for w in (a, b)]
        if self.words is None:
            embeddings, row = encode_unique_texts(model, pair_words, self.batch_size, "words")
        else:  # the whole vocabulary once: the pairs' rows and the neighbour candidates
            embeddings = encode(model, self.words, self.batch_size, "vocabulary")
            row = {w: i for i, w in enumerate(self.words)}
        items = [(embeddings[row[a]], embeddings[row[b]], s) for a, b, s in self.pairs]
        metrics = {self.key("spearman"): spearman_of_cosines(items), self.key("pairs"): float(len(items))}
        if self.words is not None and self.related:
            self.last_neighbours = nearest_words(embeddings, self.words, list(dict.fromkeys(pair_words)), self.k)
            hits = [b in self.last_neighbours[a] for a, b in self.related] + \
                   [a in self.last_neighbours[b] for a, b in self.related]
            metrics[self.key(f"neighbour_recall@{self.k}")] = sum(hits) / len(hits)
        return metrics
