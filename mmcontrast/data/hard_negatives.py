"""Hard negatives for (query, gold passage) training rows: BM25-mined negatives (DPR, Karpukhin et al. 2020) and
the n-tuple rows that carry them.

Input is a list of ``(query row, gold passage row)`` pairs over ``queries`` and ``passages``; a query may have
several gold passages. For every pair the result lists passage rows that are never a gold passage of that
query, nor a passage whose text equals one of its gold passages (a duplicate is a false negative too).
A pair may receive fewer than ``num_negatives`` negatives when the candidates run out; ``negative_rows`` turns the
result into training rows and reports the pairs it had to leave out. Negatives mined by a dense model:
``retrieval.mining``.
"""

from __future__ import annotations

import warnings
from typing import Sequence

from .bm25 import BM25Index, top_k_of_scores

#: ``(query row, gold passage row)``.
Pair = tuple[int, int]


def check_pairs(pairs: Sequence[Pair], num_queries: int, num_passages: int) -> list[Pair]:
    """``pairs`` as ``(int, int)`` rows in range; ValueError / IndexError naming the bad pair."""
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


def check_count(value: int, what: str) -> None:
    """ValueError unless ``value`` is a positive integer."""
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
    check_count(num_negatives, "num_negatives")
    pairs = check_pairs(pairs, len(queries), len(passages))
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
    check_count(num_negatives, "num_negatives")
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
