"""Exact (brute-force) top-k search of query embeddings against passage embeddings, in memory-bounded chunks.

The exhaustive inner-product search of dense retrieval (DPR, Karpukhin et al. 2020; the exact ``IndexFlatIP`` of
FAISS): every query is scored against every passage, but only a ``(query_chunk, passage_chunk)`` block of scores
exists at a time and a running top-k is merged block by block, so memory is
``O(query_chunk * (passage_chunk + k))`` instead of ``O(Q * P)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

Similarity = Literal["cos", "dot"]
SIMILARITIES: tuple[str, ...] = ("cos", "dot")


def check_similarity(similarity: str, what: str = "similarity") -> None:
    """Raise ``ValueError`` unless ``similarity`` is ``cos`` or ``dot``."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"{what} must be one of {', '.join(SIMILARITIES)}, got {similarity!r}")


def _positive_int(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def prepare(embeddings: torch.Tensor, similarity: Similarity) -> torch.Tensor:
    """(N, D) embeddings as float32, L2-normalised for ``cos`` (a zero vector stays zero and scores 0)."""
    x = embeddings.float()
    return F.normalize(x, dim=-1) if similarity == "cos" else x


def similarity_scores(queries: torch.Tensor, passages: torch.Tensor, similarity: Similarity = "cos") -> torch.Tensor:
    """Scores (Q, P) of queries (Q, D) against passages (P, D): cosine or dot product, float32."""
    check_similarity(similarity)
    return prepare(queries, similarity) @ prepare(passages, similarity).T


def top_k(
    queries: torch.Tensor,
    passages: torch.Tensor,
    k: int,
    similarity: Similarity = "cos",
    query_chunk_size: int = 256,
    passage_chunk_size: int = 50_000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k passages of each query.

    Args:
        queries: (Q, D) query embeddings.
        passages: (P, D) passage embeddings, on the same device as ``queries``.
        k: passages kept per query; ``min(k, P)`` are returned.
        similarity: ``cos`` (cosine: both sides L2-normalised) or ``dot`` (inner product, as DPR).
        query_chunk_size, passage_chunk_size: block sizes; peak extra memory is about
            ``query_chunk_size * (passage_chunk_size + 2 k)`` float32 scores.

    Returns:
        ``(scores, indices)``, both (Q, min(k, P)): float32 scores, best first, and the int64 row of each passage
        in ``passages``. Equal scores come in an unspecified (but, for the same input, repeatable) order.
        A non-finite score (nan from a diverged model) ranks as ``-inf``.
    """
    check_similarity(similarity)
    _positive_int(k, "k")
    _positive_int(query_chunk_size, "query_chunk_size")
    _positive_int(passage_chunk_size, "passage_chunk_size")
    if queries.dim() != 2 or passages.dim() != 2 or queries.shape[1] != passages.shape[1]:
        raise ValueError(f"queries (Q, D) and passages (P, D) must share D, got shapes {tuple(queries.shape)} and "
                         f"{tuple(passages.shape)}")
    if passages.shape[0] == 0:
        raise ValueError("top_k: no passages to search")
    if queries.device != passages.device:
        raise ValueError(f"queries are on {queries.device}, passages on {passages.device}")
    k = min(k, passages.shape[0])
    all_scores, all_indices = [], []
    for q_start in range(0, queries.shape[0], query_chunk_size):
        q = prepare(queries[q_start : q_start + query_chunk_size], similarity)
        best_scores = torch.full((q.shape[0], 0), float("-inf"), device=q.device)
        best_indices = torch.zeros((q.shape[0], 0), dtype=torch.long, device=q.device)
        for p_start in range(0, passages.shape[0], passage_chunk_size):
            p = prepare(passages[p_start : p_start + passage_chunk_size], similarity)
            scores = q @ p.T  # (q, p)
            scores = scores.masked_fill(scores.isnan(), float("-inf"))
            indices = torch.arange(p_start, p_start + p.shape[0], device=q.device).expand(q.shape[0], -1)
            scores = torch.cat([best_scores, scores], dim=1)
            indices = torch.cat([best_indices, indices], dim=1)
            best_scores, position = scores.topk(min(k, scores.shape[1]), dim=1)
            best_indices = indices.gather(1, position)
        all_scores.append(best_scores)
        all_indices.append(best_indices)
    if not all_scores:  # no queries
        return torch.zeros(0, k, device=queries.device), torch.zeros(0, k, dtype=torch.long, device=queries.device)
    return torch.cat(all_scores), torch.cat(all_indices)
