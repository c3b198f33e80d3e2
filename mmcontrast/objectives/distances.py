"""Pairwise distances used by margin-based objectives (triplet, pairwise contrastive)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Distance = Literal["euclidean", "cosine"]


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance = "euclidean") -> torch.Tensor:
    """Distances between every row of ``a`` (B, D) and of ``b`` (M, D) -> (B, M), in float32.

    ``euclidean`` is ||a - b||_2 (with a floor of 1e-6 so the gradient at zero distance stays finite);
    ``cosine`` is 1 - cos(a, b).
    """
    a, b = a.float(), b.float()
    if kind == "cosine":
        return 1.0 - F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(0, 1)
    if kind == "euclidean":
        squared = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1)[None, :] - 2.0 * a @ b.transpose(0, 1)
        return squared.clamp_min(1e-12).sqrt()
    raise ValueError(f"unknown distance '{kind}'; use 'euclidean' or 'cosine'")


def paired_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance = "euclidean") -> torch.Tensor:
    """Row-wise distance between ``a`` (P, D) and ``b`` (P, D) -> (P,), in float32."""
    a, b = a.float(), b.float()
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(a, b, dim=-1)
    if kind == "euclidean":
        return ((a - b) ** 2).sum(-1).clamp_min(1e-12).sqrt()
    raise ValueError(f"unknown distance '{kind}'; use 'euclidean' or 'cosine'")
