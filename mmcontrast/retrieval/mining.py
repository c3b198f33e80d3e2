"""Hard-negative mining for dense retrieval (DPR, Karpukhin et al. 2020: BM25 negatives; ANCE, Xiong et al. 2021
and RocketQA, Qu et al. 2021: negatives from a dense model, filtered against false negatives).

Input is a list of ``(query row, gold passage row)`` pairs over ``queries`` and ``passages``; a query may have
several gold passages. For every pair the result lists passage rows that are never a gold passage of that
query, nor a passage whose text equals one of its gold passages (a duplicate is a false negative too).
A pair may receive fewer than ``num_negatives`` negatives when the candidates run out; ``negative_rows`` turns the
result into training rows and reports the pairs it had to leave out.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from .bm25 import BM25Index
from .encoding import encode_texts
from .search import Similarity, check_similarity, prepare, top_k, top_k_of_scores

#: ``(query row, gold passage row)``.
Pair = tuple[int, int]


def _check_pairs(pairs: Sequence[Pair], num_queries: int, num_passages: int) -> list[Pair]:
    checked: list[Pair] = []
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pair {i}: expected (query row, gold passage row), got {pair!r}")
        q, p = (int(x) for x in pair)
        if not (0 <= q < num_queries and 0 <= p < num_passages):
            raise IndexError(f"pair {i} = {pair!r} is out of range ({num_queries} queries, {num_passages} passages)")
        checked.append((q, p))
    if not checked:
        raise ValueError("no (query, gold passage) pairs to mine negatives for")
    return checked


def _check_count(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def excluded_rows(pairs: Sequence[Pair], passages: Sequence[str]) -> dict[int, set[int]]:
    """Query row -> passage rows that may never be its negatives: its gold passages and every passage with the
    same text as one of them."""
    rows_of_text: dict[str, list[int]] = {}
    for row, text in enumerate(passages):
        rows_of_text.setdefault(text, []).append(row)
    excluded: dict[int, set[int]] = {}
    for q, p in pairs:
        excluded.setdefault(q, set()).update(rows_of_text[passages[p]])
    return excluded


def mine_bm25_negatives(
    queries: Sequence[str],
    passages: Sequence[str],
    pairs: Sequence[Pair],
    num_negatives: int,
    index: BM25Index | None = None,
    stopwords: str | list[str] | None = "en",
) -> list[list[int]]:
    """For each pair, the ``num_negatives`` best BM25 passages of its query that are not excluded
    (``excluded_rows``), best first; only passages sharing a term with the query (score > 0) qualify.

    Every pair of one query gets the same list. ``index`` reuses a ``BM25Index`` over ``passages``; otherwise
    one is built with ``stopwords``. Returns one list of passage rows per pair (possibly shorter).
    """
    _check_count(num_negatives, "num_negatives")
    pairs = _check_pairs(pairs, len(queries), len(passages))
    if index is None:
        index = BM25Index(passages, stopwords=stopwords)
    elif len(index) != len(passages):
        raise ValueError(f"index holds {len(index)} passages, but {len(passages)} passages were given")
    excluded = excluded_rows(pairs, passages)
    mined: dict[int, list[int]] = {}
    for q, rows in excluded.items():
        scores = index.scores(queries[q])
        scores[sorted(rows)] = float("-inf")
        top = top_k_of_scores(scores, num_negatives)
        mined[q] = [int(r) for r in top if scores[r] > 0]
    return [list(mined[q]) for q, _ in pairs]


def mine_dense_negatives(
    model: Any,
    queries: Sequence[str],
    passages: Sequence[str],
    pairs: Sequence[Pair],
    num_negatives: int,
    margin: float | None = 0.0,
    max_score: float | None = None,
    depth: int = 100,
    similarity: Similarity = "cos",
    query_prefix: str = "",
    passage_prefix: str = "",
    batch_size: int = 128,
    chunk_size: int = 50_000,
) -> list[list[int]]:
    """For each pair, up to ``num_negatives`` of the passages nearest to its query under ``model``
    (``model.encode``, ``role="query"`` / ``"passage"`` when it accepts one), best first, that are not excluded
    (``excluded_rows``) and pass the false-negative filters:

    - ``margin`` (>= 0, or None for no such filter): a candidate is dropped when its score is within ``margin``
      of the pair's gold passage score, or above it: kept only if ``score < gold_score - margin``;
    - ``max_score``: a candidate scoring above ``max_score`` is dropped (e.g. 0.9 for cosine).

    Candidates are the ``depth`` nearest passages plus as many as the query has excluded rows. Queries (Q, D)
    and passages (P, D) are embedded once; the search is ``search.top_k`` in chunks of ``chunk_size`` passages. Returns one list of passage rows per pair (possibly shorter).
    """
    _check_count(num_negatives, "num_negatives")
    _check_count(depth, "depth")
    check_similarity(similarity)
    if margin is not None and not margin >= 0:
        raise ValueError(f"margin must be >= 0 (or None), got {margin!r}")
    pairs = _check_pairs(pairs, len(queries), len(passages))
    excluded = excluded_rows(pairs, passages)
    query_rows = sorted(excluded)
    position = {q: i for i, q in enumerate(query_rows)}
    q_emb = encode_texts(model, [queries[q] for q in query_rows], "query", batch_size, query_prefix)
    p_emb = encode_texts(model, passages, "passage", batch_size, passage_prefix)
    depth = min(depth + max(len(rows) for rows in excluded.values()), len(passages))
    scores, indices = top_k(q_emb, p_emb, depth, similarity, passage_chunk_size=chunk_size)
    q_prep, p_prep = prepare(q_emb, similarity), prepare(p_emb, similarity)
    gold_scores = (q_prep[[position[q] for q, _ in pairs]] * p_prep[[p for _, p in pairs]]).sum(-1).tolist()
    candidate_scores, candidate_rows = scores.tolist(), indices.tolist()
    result: list[list[int]] = []
    for (q, _), gold in zip(pairs, gold_scores):
        row = position[q]
        keep: list[int] = []
        for score, passage in zip(candidate_scores[row], candidate_rows[row]):
            if len(keep) == num_negatives:
                break
            if passage in excluded[q]:
                continue
            if margin is not None and score >= gold - margin:
                continue
            if max_score is not None and score > max_score:
                continue
            keep.append(passage)
        result.append(keep)
    return result


def negative_rows(
    queries: Sequence[str],
    passages: Sequence[str],
    pairs: Sequence[Pair],
    negatives: Sequence[Sequence[int]],
    num_negatives: int,
    anchor: str = "anchor",
    positive: str = "positive",
    negative: str = "negative",
) -> list[dict[str, str]]:
    """Training rows ``{anchor: query, positive: gold passage, f"{negative}_1": ..., f"{negative}_{n}": ...}``
    (the n-tuple layout of sentence-transformers), one per pair with at least ``num_negatives`` negatives (the
    first ``num_negatives`` are used). Pairs with fewer are left out and reported by a ``UserWarning`` with their
    count. ``datasets.Dataset.from_list(rows)`` makes a dataset of them.
    """
    _check_count(num_negatives, "num_negatives")
    if len(negatives) != len(pairs):
        raise ValueError(f"negatives has {len(negatives)} lists for {len(pairs)} pairs")
    rows: list[dict[str, str]] = []
    short = 0
    for (q, p), rows_q in zip(pairs, negatives):
        if len(rows_q) < num_negatives:
            short += 1
            continue
        row = {anchor: queries[q], positive: passages[p]}
        row.update({f"{negative}_{j + 1}": passages[n] for j, n in enumerate(rows_q[:num_negatives])})
        rows.append(row)
    if short:
        warnings.warn(f"negative_rows: {short} of {len(pairs)} pair(s) have fewer than {num_negatives} mined "
                      f"negatives and are left out", UserWarning, stacklevel=2)
    return rows
