"""A BM25 index over passages (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
Beyond") with ``bm25s`` (Lù 2024), and the deterministic top-k of a score row it ranks with.

Defaults are bm25s's: the Lucene variant of the scoring (``method="lucene"``), ``k1=1.5``, ``b=0.75``, bm25s's
tokeniser (lower-cased ``\\w\\w+`` tokens) with English stopwords removed and no stemming. The data layer mines
hard negatives with it (``hard_negatives``); ``retrieval.bm25`` scores a BEIR split with it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch


def top_k_of_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``min(k, P)`` largest of ``scores`` (P,), best first; equal scores in row order (lower row
    first), so the ranking is deterministic. ``O(P)`` selection, then a sort of the k kept rows."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    scores = np.asarray(scores)
    n = scores.shape[0]
    if k >= n:
        return np.lexsort((np.arange(n), -scores))
    threshold = scores[np.argpartition(-scores, k - 1)[:k]].min()
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - above.shape[0]]
    kept = np.concatenate([above, ties])
    return kept[np.lexsort((kept, -scores[kept]))]


class BM25Index:
    """A BM25 index over ``passages`` (P texts); ``search`` and ``scores`` take raw query strings.

    Args:
        passages: the P texts to index (e.g. ``BeirData.passages()``: title + text).
        stopwords: ``"en"`` (bm25s's English list), a list of words, or None to keep every token.
        k1, b: BM25 term-frequency saturation and length normalisation.
        method: bm25s scoring variant (``lucene``, ``robertson``, ``atire``, ``bm25l``, ``bm25+``).
        stemmer: optional callable (list of words -> list of stems), e.g. a PyStemmer ``Stemmer``.
    """

    def __init__(
        self,
        passages: Sequence[str],
        stopwords: str | list[str] | None = "en",
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stemmer: Callable[..., Any] | None = None,
    ) -> None:
        import bm25s

        self._bm25s = bm25s
        self.passages = list(passages)
        if not self.passages:
            raise ValueError("BM25Index: no passages to index")
        self.stopwords = stopwords
        self.stemmer = stemmer
        self.retriever = bm25s.BM25(k1=k1, b=b, method=method)
        tokens = bm25s.tokenize(self.passages, stopwords=stopwords or [], stemmer=stemmer, show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.passages)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score (P,) float32 of every passage for one query (all 0 when no query term is indexed)."""
        tokens = self._bm25s.tokenize([query], stopwords=self.stopwords or [], stemmer=self.stemmer,
                                      return_ids=False, show_progress=False)[0]
        ids = self.retriever.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, queries: Sequence[str], k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top ``min(k, P)`` passages of each query: ``(scores, indices)``, both (Q, min(k, P)), best first; equal
        scores (e.g. the 0 of passages sharing no term with the query) in passage order."""
        k = min(k, len(self.passages))
        scores = np.zeros((len(queries), k), dtype=np.float32)
        indices = np.zeros((len(queries), k), dtype=np.int64)
        for row, query in enumerate(queries):
            all_scores = self.scores(query)
            top = top_k_of_scores(all_scores, k)
            scores[row], indices[row] = all_scores[top], top
        return torch.from_numpy(scores), torch.from_numpy(indices)
