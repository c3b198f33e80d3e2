"""Skip-gram with negative sampling (Mikolov et al. 2013, "Distributed Representations of Words and Phrases and
their Compositionality"): a center word predicts each word within ``window`` of it against ``k`` noise words drawn
from the unigram distribution raised to 3/4.

This module holds the pieces: tokenisation, the vocabulary (``load_vocabulary`` builds it once per process from
a ``{path, min_count, limit}`` spec, so the dataset, view, encoders and evaluator of one config share it), the
(center, context) pairs, the noise sampler and the SGNS loss on the project's ``EmbeddingBatch`` (query = center
(B, D), positive = context (B, D), negatives = noise (B, K, D)): ``-log sigmoid(q.p) - sum_k log sigmoid(-q.n_k)``
on raw dot products. The registered components that make it a ``mmcontrast train`` config are
``mmcontrast.data.skipgram`` (dataset ``skipgram_pairs``), ``mmcontrast.views.skipgram`` (view ``skipgram``),
``mmcontrast.encoders.words`` (encoder ``word_embeddings``, one table per tower: the query tower holds the input
vectors, a ``passage_encoder`` the output vectors) and ``mmcontrast.evaluation.word_similarity`` and ``mmcontrast.objectives.negative_sampling`` (objective ``negative_sampling``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from ..batch import EmbeddingBatch
from ..errors import DataError
from ..text_files import nonblank_lines

TOKEN = re.compile(r"[a-z]+")


def tokenize(sentence: str) -> list[str]:
    """Lower-cased alphabetic words."""
    return TOKEN.findall(sentence.lower())


@dataclass
class Vocabulary:
    """Words with at least ``min_count`` occurrences, most frequent first, and their counts."""

    words: list[str]
    counts: list[int]

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], min_count: int = 5) -> "Vocabulary":
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"skipgram: 'min_count' must be an integer >= 1, got {min_count!r}")
        counter = Counter(word for sentence in sentences for word in tokenize(sentence))
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda x: (-x[1], x[0]))
        if not kept:
            raise ValueError(f"skipgram: no word occurs {min_count} times ('min_count'); lower it or add text")
        return cls([w for w, _ in kept], [c for _, c in kept])

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, sentence: str) -> list[int]:
        return [self.index[w] for w in tokenize(sentence) if w in self.index]


def read_sentences(path: str | Path, limit: int | None = None) -> list[str]:
    """The non-blank lines of a UTF-8 text file (one sentence per line), the first ``limit`` of them."""
    sentences = nonblank_lines(path, limit)
    if not sentences:
        raise DataError(f"{path}: the dataset is empty")
    return sentences


@lru_cache(maxsize=8)
def _cached_vocabulary(path: str, min_count: int, limit: int | None) -> Vocabulary:
    return Vocabulary.from_sentences(read_sentences(path, limit), min_count=min_count)


def load_vocabulary(spec: "Vocabulary | dict") -> Vocabulary:
    """A vocabulary from a config spec ``{path, min_count: 5, limit: null}`` (the words of the first ``limit``
    lines of ``path`` with at least ``min_count`` occurrences), built once per process and spec; a
    ``Vocabulary`` is returned as is. Errors name the spec's keys."""
    if isinstance(spec, Vocabulary):
        return spec
    if not isinstance(spec, dict) or "path" not in spec:
        raise ValueError(f"skipgram: 'vocabulary' must be a mapping {{path, min_count, limit}}, got {spec!r}")
    unknown = sorted(set(spec) - {"path", "min_count", "limit"})
    if unknown:
        raise ValueError(f"skipgram: unknown key(s) {unknown} in 'vocabulary'; valid keys: path, min_count, limit")
    return _cached_vocabulary(str(spec["path"]), spec.get("min_count", 5), spec.get("limit"))


def skipgram_pairs(vocab: Vocabulary, sentences: Iterable[str], window: int = 2) -> torch.Tensor:
    """(N, 2) long (center id, context id) pairs: every in-vocabulary word with each word at most ``window``
    positions away in the same sentence (out-of-vocabulary words removed first, as word2vec does)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"skipgram: 'window' must be an integer >= 1, got {window!r}")
    pairs = []
    for sentence in sentences:
        ids = vocab.ids(sentence)
        for i, center in enumerate(ids):
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i:
                    pairs.append((center, ids[j]))
    if not pairs:
        raise ValueError("skipgram: no (center, context) pair: sentences need two in-vocabulary words")
    return torch.tensor(pairs, dtype=torch.long)


class NoiseSampler:
    """Noise words from the unigram distribution to the power ``power`` (3/4 in word2vec)."""

    def __init__(self, counts: Sequence[int], power: float = 0.75, seed: int = 0) -> None:
        weights = torch.tensor(counts, dtype=torch.float64) ** power
        self.probabilities = (weights / weights.sum()).float()
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch: int, k: int) -> torch.Tensor:
        """(batch, k) word ids."""
        return torch.multinomial(self.probabilities, batch * k, replacement=True,
                                 generator=self.generator).reshape(batch, k)


def negative_sampling_loss(batch: EmbeddingBatch) -> torch.Tensor:
    """Mean SGNS loss ``-log sigmoid(q.p) - sum_k log sigmoid(-q.n_k)`` over the B rows of ``batch``."""
    if batch.positive is None or batch.negatives is None:
        raise ValueError("negative sampling needs positive (B, D) and negatives (B, K, D)")
    positive = F.logsigmoid((batch.query * batch.positive).sum(-1))
    negative = F.logsigmoid(-torch.einsum("bd,bkd->bk", batch.query, batch.negatives)).sum(-1)
    return -(positive + negative).mean()


def read_word_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """``word1<TAB>word2<TAB>score`` lines (``#`` comments and blank lines skipped); errors name file and line."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected word1<TAB>word2<TAB>score, got {line!r}")
        try:
            out.append((parts[0].strip().lower(), parts[1].strip().lower(), float(parts[2])))
        except ValueError:
            raise ValueError(f"{path}:{number}: score {parts[2]!r} is not a number") from None
    return out


def word_similarity_spearman(embeddings: torch.Tensor, vocab: Vocabulary,
                             pairs: Sequence[tuple[str, str, float]]) -> tuple[float, int]:
    """Spearman correlation of cosine(word1, word2) with the pair scores over the pairs whose words are both in
    ``vocab``, for a (V, D) table of ``vocab``'s words -> (rho, pairs used); nan when fewer than 3 pairs are
    covered."""
    covered = [(vocab.index[a], vocab.index[b], s) for a, b, s in pairs if a in vocab.index and b in vocab.index]
    e = F.normalize(embeddings.detach().float(), dim=-1)
    return spearman_of_cosines([(e[a], e[b], s) for a, b, s in covered]), len(covered)


def spearman_of_cosines(items: Sequence[tuple[torch.Tensor, torch.Tensor, float]]) -> float:
    """Spearman correlation of cosine(u, v) with the scores of (u (D,), v (D,), score) items; nan below 3."""
    if len(items) < 3:
        return math.nan
    cosines = [float(F.cosine_similarity(u, v, dim=0)) for u, v, _ in items]
    return float(spearmanr(cosines, [s for _, _, s in items]).statistic)
