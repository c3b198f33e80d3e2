"""A BM25 run over a BEIR folder (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
Beyond"), with the data layer's ``BM25Index`` (``data.bm25``, on ``bm25s``, Lù 2024).

Defaults are bm25s's: the Lucene variant of the scoring (``method="lucene"``), ``k1=1.5``, ``b=0.75``, bm25s's
tokeniser (lower-cased ``\\w\\w+`` tokens) with English stopwords removed and no stemming. On the 112 Cranfield
queries in ``../shared/data/retrieval_cranfield`` (title + text of each passage) this gives nDCG@10 0.3452.
"""

from __future__ import annotations

import time
from os import PathLike
from typing import Sequence

from ..data.beir_files import load_beir
from ..data.bm25 import BM25Index
from .metrics import check_k_values, evaluate
from .run import RetrievalResult, run_from_indices


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
