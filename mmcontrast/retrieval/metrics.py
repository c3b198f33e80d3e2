"""Ranking metrics of ad-hoc retrieval, as defined by trec_eval (and computed identically by ranx / pytrec_eval).

A ranking is a sequence of passage ids, best first (no repeats); judgements map passage id -> integer grade, and a
passage is relevant when its grade is > 0 (trec_eval's default ``relevance_level`` 1 for integer grades).

- nDCG@k (Järvelin & Kekäläinen 2002), trec_eval ``ndcg_cut.k``: ``DCG@k / IDCG@k`` with linear gain (the grade)
  and discount ``1 / log2(rank + 1)``; the ideal ranking sorts every judged passage by grade.
- MRR@k (Voorhees 1999): ``1 / rank`` of the first relevant passage within the top k, 0 if none
  (trec_eval ``recip_rank`` on the top-k ranking).
- Recall@k: relevant passages in the top k / all relevant passages (trec_eval ``recall.k``).
- MAP: mean over queries of average precision, ``sum(precision@rank for each relevant rank) / #relevant`` over the
  whole ranking given (the retrieval depth; trec_eval ``map``).

``evaluate`` averages over the queries with at least one relevant judgement; a query without a ranking scores 0.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

#: Ranked passage ids of each query id, best first.
Rankings = Mapping[str, Sequence[str]]
#: Query id -> passage id -> integer relevance grade.
Judgements = Mapping[str, Mapping[str, int]]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _discount(rank: int) -> float:
    """``1 / log2(rank + 1)`` for a 1-based rank."""
    return 1.0 / math.log2(rank + 1)


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranking (linear gain, log2 discount); 0 when nothing is relevant."""
    _check_k(k)
    dcg = sum(_discount(rank) * max(relevance.get(pid, 0), 0) for rank, pid in enumerate(ranking[:k], start=1))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(_discount(rank) * g for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant passage within the top k (0 when there is none)."""
    _check_k(k)
    for rank, pid in enumerate(ranking[:k], start=1):
        if relevance.get(pid, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant passages found in the top k; 0 when nothing is relevant."""
    _check_k(k)
    relevant = sum(g > 0 for g in relevance.values())
    if not relevant:
        return 0.0
    return sum(relevance.get(pid, 0) > 0 for pid in ranking[:k]) / relevant


def average_precision(ranking: Sequence[str], relevance: Mapping[str, int]) -> float:
    """Average precision over the whole ranking: relevant passages never retrieved count as precision 0."""
    relevant = sum(g > 0 for g in relevance.values())
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, pid in enumerate(ranking, start=1):
        if relevance.get(pid, 0) > 0:
            hits += 1
            total += hits / rank
    return total / relevant


def metric_names(k_values: Sequence[int]) -> list[str]:
    """``ndcg@k``, ``mrr@k`` and ``recall@k`` for each k (ascending), then ``map``."""
    ks = sorted(set(k_values))
    return [f"{m}@{k}" for m in ("ndcg", "mrr", "recall") for k in ks] + ["map"]


def check_k_values(k_values: Sequence[int]) -> list[int]:
    """Distinct positive integers, ascending; ``ValueError`` for an empty list or a bad value."""
    if isinstance(k_values, (str, bytes)) or not isinstance(k_values, Sequence) or not k_values:
        raise ValueError(f"k_values must be a non-empty list of positive integers, got {k_values!r}")
    for k in k_values:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k_values must be positive integers, got {k!r} in {list(k_values)}")
    return sorted(set(k_values))


def per_query(rankings: Rankings, qrels: Judgements, k_values: Sequence[int] = (1, 10, 100)) -> dict[str, dict[str, float]]:
    """Metrics of each query with at least one relevant judgement: ``{query_id: {metric_names(k_values): value}}``.

    Rankings of queries without a relevant judgement are ignored; a judged query missing from ``rankings`` gets an
    empty ranking (all metrics 0). ``ValueError`` when a ranking repeats a passage id.
    """
    ks = check_k_values(k_values)
    out: dict[str, dict[str, float]] = {}
    for query_id, relevance in qrels.items():
        if not any(g > 0 for g in relevance.values()):
            continue
        ranking = list(rankings.get(query_id, ()))
        if len(set(ranking)) != len(ranking):
            raise ValueError(f"the ranking of query {query_id!r} repeats a passage id")
        row = {f"ndcg@{k}": ndcg_at_k(ranking, relevance, k) for k in ks}
        row.update({f"mrr@{k}": mrr_at_k(ranking, relevance, k) for k in ks})
        row.update({f"recall@{k}": recall_at_k(ranking, relevance, k) for k in ks})
        row["map"] = average_precision(ranking, relevance)
        out[query_id] = row
    return out


def evaluate(rankings: Rankings, qrels: Judgements, k_values: Sequence[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean of ``per_query`` over the queries with at least one relevant judgement: ``{metric: value}`` with the
    keys of ``metric_names(k_values)``. ``ValueError`` when no query has a relevant judgement."""
    rows = per_query(rankings, qrels, k_values)
    if not rows:
        raise ValueError("no query has a relevant judgement (grade > 0): nothing to average")
    names = metric_names(k_values)
    return {name: sum(row[name] for row in rows.values()) / len(rows) for name in names}
