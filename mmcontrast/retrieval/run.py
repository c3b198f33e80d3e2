"""A retrieval run (ranked passage ids of each query) and the result of scoring one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

#: Query id -> ranked passage ids, best first.
Run = dict[str, list[str]]


def run_from_indices(query_ids: Sequence[str], passage_ids: Sequence[str], indices: torch.Tensor) -> Run:
    """Turn top-k passage rows (Q, k) (e.g. from ``search.top_k``) into ``{query_id: [passage_id, ...]}``; a row
    of -1 (a slot an ANN index could not fill) is left out."""
    if indices.dim() != 2 or indices.shape[0] != len(query_ids):
        raise ValueError(f"indices must be (Q={len(query_ids)}, k), got shape {tuple(indices.shape)}")
    return {qid: [passage_ids[i] for i in row if i >= 0] for qid, row in zip(query_ids, indices.tolist())}


@dataclass
class RetrievalResult:
    """A run and its metrics.

    Attributes:
        run: query id -> ranked passage ids (depth = the largest k).
        metrics: ``metrics.evaluate`` of ``run`` (``ndcg@k``, ``mrr@k``, ``recall@k``, ``map``), unprefixed.
        seconds: wall-clock time of each phase (e.g. ``index``, ``encode_queries``, ``encode_passages``,
            ``search``).
        scores: query id -> the score of each passage of ``run[query_id]``.
    """

    run: Run
    metrics: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
