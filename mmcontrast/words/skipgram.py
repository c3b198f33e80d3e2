"""Skip-gram with negative sampling (Mikolov et al. 2013, "Distributed Representations of Words and Phrases and
their Compositionality"): a center word predicts each word within ``window`` of it against ``k`` noise words drawn
from the unigram distribution raised to 3/4.

The pretext task is a word-level view: (center, context) pairs from sentences; the encoder a word-embedding table
(input vectors for centers, output vectors for contexts and noise, as word2vec); the loss is computed on the
project's ``EmbeddingBatch`` (query = center (B, D), positive = context (B, D), negatives = noise (B, K, D)):
``-log sigmoid(q.p) - sum_k log sigmoid(-q.n_k)`` on raw dot products (SGNS). Evaluation: Spearman correlation of
cosine similarity with human relatedness scores of word pairs (``word_similarity_spearman``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from ..batch import EmbeddingBatch

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


class WordEmbeddings(nn.Module):
    """word2vec's two tables: input vectors (centers; the word embeddings used at evaluation) and output vectors
    (contexts and noise). Inputs initialised uniform in ±0.5/D, outputs at zero, as word2vec."""

    def __init__(self, vocab_size: int, dim: int = 64, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.input = nn.Embedding(vocab_size, dim)
        self.output = nn.Embedding(vocab_size, dim)
        with torch.no_grad():
            self.input.weight.copy_((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)
            self.output.weight.zero_()

    def batch(self, centers: torch.Tensor, contexts: torch.Tensor, noise: torch.Tensor) -> EmbeddingBatch:
        """(B,), (B,), (B, K) ids -> EmbeddingBatch(query (B, D), positive (B, D), negatives (B, K, D))."""
        return EmbeddingBatch(query=self.input(centers), positive=self.output(contexts),
                              negatives=self.output(noise))


def negative_sampling_loss(batch: EmbeddingBatch) -> torch.Tensor:
    """Mean SGNS loss ``-log sigmoid(q.p) - sum_k log sigmoid(-q.n_k)`` over the B rows of ``batch``."""
    if batch.positive is None or batch.negatives is None:
        raise ValueError("negative sampling needs positive (B, D) and negatives (B, K, D)")
    positive = F.logsigmoid((batch.query * batch.positive).sum(-1))
    negative = F.logsigmoid(-torch.einsum("bd,bkd->bk", batch.query, batch.negatives)).sum(-1)
    return -(positive + negative).mean()


def train_skipgram(model: WordEmbeddings, pairs: torch.Tensor, noise: NoiseSampler, steps: int,
                   batch_size: int = 512, num_negatives: int = 5, lr: float = 0.01, seed: int = 0) -> list[float]:
    """``steps`` Adam steps on random batches of ``pairs`` with ``num_negatives`` noise words each."""
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        rows = pairs[torch.randint(len(pairs), (batch_size,), generator=g)]
        loss = negative_sampling_loss(model.batch(rows[:, 0], rows[:, 1], noise(batch_size, num_negatives)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


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
    ``vocab`` -> (rho, pairs used); nan when fewer than 3 pairs are covered."""
    covered = [(vocab.index[a], vocab.index[b], s) for a, b, s in pairs if a in vocab.index and b in vocab.index]
    if len(covered) < 3:
        return math.nan, len(covered)
    e = F.normalize(embeddings.detach().float(), dim=-1)
    cosines = [float(e[a] @ e[b]) for a, b, _ in covered]
    return float(spearmanr(cosines, [s for _, _, s in covered]).statistic), len(covered)
