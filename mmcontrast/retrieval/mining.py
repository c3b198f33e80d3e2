"""Hard negatives mined by a dense model (ANCE, Xiong et al. 2021 and RocketQA, Qu et al. 2021: negatives from a
dense model, filtered against false negatives). BM25 negatives (DPR, Karpukhin et al. 2020), the exclusion of
gold passages and their duplicates, and the training rows: ``data.hard_negatives``.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..data.hard_negatives import Pair, check_count, check_pairs, excluded_rows
from .encoding import encode_texts
from .search import Similarity, check_similarity, prepare, top_k


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
    check_count(num_negatives, "num_negatives")
    check_count(depth, "depth")
    check_similarity(similarity)
    if margin is not None and not margin >= 0:
        raise ValueError(f"margin must be >= 0 (or None), got {margin!r}")
    pairs = check_pairs(pairs, len(queries), len(passages))
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
