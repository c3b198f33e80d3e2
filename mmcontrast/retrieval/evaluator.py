"""Dense retrieval evaluation on a BEIR collection (Thakur et al. 2021): embed queries and passages, exact top-k
search (or an approximate FAISS index, ``ann``), nDCG@10 (primary), MRR@k, Recall@k and MAP as trec_eval defines
them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from ..data.beir_files import BeirData, load_beir
from ..evaluation.base import Encoder, Evaluator
from .ann import AnnIndex, check_index_spec, recall_against_exact
from .encoding import encode_texts
from .metrics import check_k_values, evaluate, metric_names
from .run import RetrievalResult, run_from_indices
from .search import Similarity, check_similarity, top_k

PRIMARY_K = 10


def evaluation_ks(k_values: Sequence[int]) -> list[int]:
    """The cutoffs reported: ``k_values`` plus 10 (the primary nDCG@10 / MRR@10), ascending."""
    return sorted(set(check_k_values(k_values)) | {PRIMARY_K})


def dense_run(
    model: Any,
    data: BeirData,
    k_values: Sequence[int] = (1, 10, 100),
    similarity: Similarity = "cos",
    query_prefix: str = "",
    passage_prefix: str = "",
    include_title: bool = True,
    batch_size: int = 128,
    chunk_size: int = 50_000,
    index: Mapping[str, Any] | None = None,
    compare_exact: bool = False,
) -> RetrievalResult:
    """Retrieve with ``model`` on ``data`` and score the run.

    The Q queries with a relevant judgement are embedded with ``model.encode(query_prefix + text, role="query")``
    -> (Q, D) and the P passages (``data.passages(include_title, passage_prefix)``) with ``role="passage"`` ->
    (P, D) (``role`` only when ``encode`` accepts it); ``search.top_k`` keeps the best ``max(k_values, 10)``
    passages of each query by ``similarity`` (``cos`` or ``dot``), ``chunk_size`` passages at a time.

    With ``index`` (an ``ann.check_index_spec`` mapping, e.g. ``{kind: hnsw}``) the passages go into a FAISS index
    (``seconds["index"]``) and the top-k come from it instead; ``compare_exact`` also runs the exact search and
    adds ``ann_recall@10`` (share of the exact top 10 the index returns) and ``seconds["exact_search"]``.

    Returns a ``RetrievalResult`` whose ``metrics`` has the keys of ``metrics.metric_names`` (all nan, and an
    empty run, when an embedding is not finite) and ``seconds`` has ``encode_queries``, ``encode_passages``,
    ``search``.
    """
    check_similarity(similarity)
    if index is not None:
        index = check_index_spec(index)
    ks = evaluation_ks(k_values)
    names = metric_names(ks) + (["ann_recall@10"] if index is not None and compare_exact else [])
    query_ids, queries = data.evaluated()
    start = time.perf_counter()
    query_embeddings = encode_texts(model, queries, "query", batch_size, query_prefix)
    encoded_queries = time.perf_counter()
    passage_embeddings = encode_texts(model, data.passages(include_title, passage_prefix), "passage", batch_size)
    encoded_passages = time.perf_counter()
    seconds = {"encode_queries": encoded_queries - start, "encode_passages": encoded_passages - encoded_queries}
    if query_embeddings.shape[1] != passage_embeddings.shape[1]:
        raise ValueError(f"query embeddings have {query_embeddings.shape[1]} dimensions, passage embeddings "
                         f"{passage_embeddings.shape[1]}: they must match")
    if not (torch.isfinite(query_embeddings).all() and torch.isfinite(passage_embeddings).all()):
        return RetrievalResult(run={}, metrics={m: math.nan for m in names}, seconds=seconds)
    extra: dict[str, float] = {}
    if index is None:
        scores, indices = top_k(query_embeddings, passage_embeddings, max(ks), similarity,
                                passage_chunk_size=chunk_size)
        seconds["search"] = time.perf_counter() - encoded_passages
    else:
        ann = AnnIndex.build(passage_embeddings, index, similarity)
        built = time.perf_counter()
        seconds["index"] = built - encoded_passages
        scores, indices = ann.search(query_embeddings, max(ks))
        seconds["search"] = time.perf_counter() - built
        if compare_exact:
            started = time.perf_counter()
            _, exact = top_k(query_embeddings, passage_embeddings, max(ks), similarity, passage_chunk_size=chunk_size)
            seconds["exact_search"] = time.perf_counter() - started
            extra["ann_recall@10"] = recall_against_exact(indices, exact, min(PRIMARY_K, indices.shape[1]))
    run = run_from_indices(query_ids, data.passage_ids, indices)
    return RetrievalResult(run=run, metrics={**evaluate(run, data.qrels, ks), **extra}, seconds=seconds,
                           scores={qid: [s for s, i in zip(row, rows) if i >= 0]
                                   for qid, row, rows in zip(query_ids, scores.tolist(), indices.tolist())})


class RetrievalEvaluator(Evaluator):
    """Dense retrieval on one BEIR split: ``{name}/ndcg@k``, ``{name}/mrr@k``, ``{name}/recall@k`` for each k of
    ``k_values`` and 10, and ``{name}/map`` (over the top ``max(k)``). Primary: ``{name}/ndcg@10``.

    With ``index`` (``{kind: flat | ivf | hnsw, ...}``, see ``retrieval.ann``) the search goes through a FAISS
    index; ``compare_exact`` adds ``{name}/ann_recall@10`` against the exact search.

    ``last_result`` keeps the ``RetrievalResult`` of the latest call (run, timings) for reports.
    """

    primary = f"ndcg@{PRIMARY_K}"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``retrieval``: a BEIR folder ``path`` (``corpus.jsonl``, ``queries.jsonl``,
        ``qrels/<split>.tsv``), searched exactly by ``similarity`` (``cos`` or ``dot``). Queries are encoded with
        ``role="query"``, passages (title + text unless ``include_title: false``) with ``role="passage"`` when the
        model's ``encode`` takes a role. ``skip_empty`` leaves passages and queries with an empty text out
        (reported with counts) instead of failing. ``index: {kind: flat | ivf | hnsw, ...}`` searches a FAISS
        index instead (needs ``mmcontrast[ann]``); ``compare_exact: true`` adds ``{prefix}/ann_recall@10``
        against the exact search."""

        path: str
        split: str = "test"
        k_values: list[int] | tuple[int, ...] = field(default=(1, 10, 100))
        query_prefix: str = ""
        passage_prefix: str = ""
        include_title: bool = True
        skip_empty: bool = False
        similarity: str = "cos"
        chunk_size: int = 50_000
        prefix: str = "retrieval"
        batch_size: int = 128
        index: dict[str, Any] | None = None
        compare_exact: bool = False

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The BEIR data of evaluator ``retrieval`` and its ``k_values`` as a list."""
        return dict(data=load_beir(section.path, section.split, skip_empty=section.skip_empty),
                    k_values=list(section.k_values))

    @staticmethod
    def check_params(params: dict[str, Any], key: str) -> None:
        """Config-time check of the ``index`` spec (a ValueError naming ``<key>.index.<x>``)."""
        if params.get("index") is not None:
            check_index_spec(params["index"], f"{key}.index")
        if params.get("compare_exact") and params.get("index") is None:
            raise ValueError(f"'{key}.compare_exact' needs '{key}.index' (without an index the search is exact)")

    def __init__(
        self,
        data: BeirData,
        k_values: Sequence[int] = (1, 10, 100),
        similarity: Similarity = "cos",
        query_prefix: str = "",
        passage_prefix: str = "",
        include_title: bool = True,
        chunk_size: int = 50_000,
        name: str = "retrieval",
        batch_size: int = 128,
        index: Mapping[str, Any] | None = None,
        compare_exact: bool = False,
    ) -> None:
        super().__init__(name, batch_size)
        self.index = check_index_spec(index, "index") if index is not None else None
        if compare_exact and index is None:
            raise ValueError(f"{type(self).__name__}: compare_exact needs an index (the exact search is the default)")
        self.compare_exact = bool(compare_exact)
        check_similarity(similarity, f"{type(self).__name__} similarity")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"{type(self).__name__}: chunk_size must be a positive integer, got {chunk_size!r}")
        for what, value in (("query_prefix", query_prefix), ("passage_prefix", passage_prefix)):
            if not isinstance(value, str):
                raise TypeError(f"{type(self).__name__}: {what} must be a string, got {type(value).__name__}")
        self.data = data
        self.k_values = evaluation_ks(k_values)
        self.similarity: Similarity = similarity
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.include_title = include_title
        self.chunk_size = chunk_size
        self.last_result: RetrievalResult | None = None

    def __call__(self, model: Encoder) -> dict[str, float]:
        result = dense_run(model, self.data, self.k_values, self.similarity, self.query_prefix,
                           self.passage_prefix, self.include_title, self.batch_size, self.chunk_size,
                           self.index, self.compare_exact)
        self.last_result = result
        return {self.key(metric): float(value) for metric, value in result.metrics.items()}
