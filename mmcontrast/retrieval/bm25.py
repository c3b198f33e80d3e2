"""BM25 retrieval (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond") with
``bm25s`` (Lù 2024), and a BM25 run over a BEIR folder.

Defaults are bm25s's: the Lucene variant of the scoring (``method="lucene"``), ``k1=1.5``, ``b=0.75``, bm25s's
tokeniser (lower-cased ``\\w\\w+`` tokens) with English stopwords removed and no stemming. On the 112 Cranfield
queries in ``../shared/data/retrieval_cranfield`` (title + text of each passage) this gives nDCG@10 0.3452.
"""

from __future__ import annotations

import time
from os import PathLike
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .beir import load_beir
from .metrics import check_k_values, evaluate
from .run import RetrievalResult, run_from_indices
from .search import top_k_of_scores


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


def bm25_run(
    path: str | PathLike[str],
    split: str = "test",
    k_values: Sequence[int] = (1, 10, 100),
    include_title: bool = True,
    skip_empty: bool = False,
    stopwords: str | list[str] | None = "en",
    k1: float = 1.5,
    b: float = 0.75,
    method: str = "lucene",
) -> RetrievalResult:
    """BM25 over the BEIR folder ``path``: index the passages (title + text unless ``include_title=False``), rank
    the top ``max(k_values, 10)`` passages of every query with a relevant judgement in ``split``, and score the
    run (``metrics.evaluate``: ``ndcg@k``, ``mrr@k``, ``recall@k`` for ``k_values`` and 10, and ``map``).
    ``skip_empty`` leaves empty passages and queries out (``load_beir``).

    ``result.seconds`` has ``load``, ``index`` and ``search``.
    """
    ks = sorted(set(check_k_values(k_values)) | {10})
    start = time.perf_counter()
    data = load_beir(path, split, skip_empty=skip_empty)
    loaded = time.perf_counter()
    index = BM25Index(data.passages(include_title), stopwords=stopwords, k1=k1, b=b, method=method)
    indexed = time.perf_counter()
    query_ids, queries = data.evaluated()
    scores, indices = index.search(queries, max(ks))
    searched = time.perf_counter()
    run = run_from_indices(query_ids, data.passage_ids, indices)
    return RetrievalResult(
        run=run, metrics=evaluate(run, data.qrels, ks),
        seconds={"load": loaded - start, "index": indexed - loaded, "search": searched - indexed},
        scores={qid: row for qid, row in zip(query_ids, scores.tolist())},
    )
