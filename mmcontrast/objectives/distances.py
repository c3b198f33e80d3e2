"""Similarities and distances between embeddings: one registry, ``DISTANCES``, of kinds that know whether a
larger value means closer.

Every objective compares embeddings through one of these kinds. Similarity-based losses (InfoNCE, SupCon,
NCE, N-pair, multi-similarity, circle, soft nearest neighbour) ask a kind for ``similarity`` and distance-based
ones (triplet, pairwise contrastive, lifted structured) for ``distance``; each kind converts itself, so no loss
has to know the sign convention:

============================  =================  ==================  ========================
kind                          raw value          as a similarity     as a distance
============================  =================  ==================  ========================
``cosine``                    cos(a, b)          cos(a, b)           1 - cos(a, b)  (in [0, 2])
``dot``                       a . b              a . b               -a . b  (unbounded below)
``euclidean``                 ||a - b||_2        -||a - b||_2        ||a - b||_2
``squared_euclidean``         ||a - b||_2^2      -||a - b||_2^2      ||a - b||_2^2
``manhattan``                 ||a - b||_1        -||a - b||_1        ||a - b||_1
============================  =================  ==================  ========================

Matrices are computed in float32: operands are promoted first and products run with autocast off
(``precision.float32_matmul``), whatever precision the encoder ran in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F

from ..registry import Registry
from .precision import float32_matmul

Distance = Literal["euclidean", "squared_euclidean", "manhattan", "cosine", "dot"]
Pairwise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _promote(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return a.float(), b.float()


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return float32_matmul(a, b.transpose(0, 1))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = _promote(a, b)
    return float32_matmul(F.normalize(a, dim=-1), F.normalize(b, dim=-1).transpose(0, 1))


def _squared_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = _promote(a, b)
    squared = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1)[None, :] - 2.0 * float32_matmul(a, b.transpose(0, 1))
    return squared.clamp_min(0.0)


def _euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # floor of 1e-12 under the root: the gradient at zero distance stays finite
    return _squared_euclidean(a, b).clamp_min(1e-12).sqrt()


def _manhattan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = _promote(a, b)
    return torch.cdist(a, b, p=1.0)


def _paired_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() * b.float()).sum(-1)


def _paired_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.float(), b.float(), dim=-1)


def _paired_squared_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a.float() - b.float()) ** 2).sum(-1)


def _paired_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _paired_squared_euclidean(a, b).clamp_min(1e-12).sqrt()


def _paired_manhattan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).abs().sum(-1)


@dataclass(frozen=True)
class DistanceKind:
    """One way of comparing embeddings.

    Attributes:
        name: registry name.
        higher_is_closer: True for a similarity (cosine, dot), False for a distance.
        nonnegative: as a distance, never negative and 0 for identical embeddings (everything but ``dot``).
        bounded: as a similarity, within [-1, 1] (``cosine``).
        distance_offset: a similarity s becomes the distance ``offset - s`` (1 for cosine, 0 for dot); a distance
            d becomes the similarity ``-d``.
    """

    name: str
    higher_is_closer: bool
    nonnegative: bool
    bounded: bool
    raw: Pairwise
    raw_paired: Pairwise
    distance_offset: float = 0.0

    def as_similarity(self, value: torch.Tensor) -> torch.Tensor:
        """A ``raw`` / ``raw_paired`` value as a similarity (larger = closer)."""
        return value if self.higher_is_closer else -value

    def as_distance(self, value: torch.Tensor) -> torch.Tensor:
        """A ``raw`` / ``raw_paired`` value as a distance (smaller = closer)."""
        return self.distance_offset - value if self.higher_is_closer else value

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, D) x (M, D) -> (B, M) float32, larger = closer."""
        return self.as_similarity(self.raw(a, b))

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, D) x (M, D) -> (B, M) float32, smaller = closer."""
        return self.as_distance(self.raw(a, b))

    def paired_similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Row-wise (P, D), (P, D) -> (P,) float32, larger = closer."""
        return self.as_similarity(self.raw_paired(a, b))

    def paired_distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Row-wise (P, D), (P, D) -> (P,) float32, smaller = closer."""
        return self.as_distance(self.raw_paired(a, b))


DISTANCES: Registry[DistanceKind] = Registry("distance")
for _kind in (
    DistanceKind("cosine", True, True, True, _cosine, _paired_cosine, distance_offset=1.0),
    DistanceKind("dot", True, False, False, _dot, _paired_dot),
    DistanceKind("euclidean", False, True, False, _euclidean, _paired_euclidean),
    DistanceKind("squared_euclidean", False, True, False, _squared_euclidean, _paired_squared_euclidean),
    DistanceKind("manhattan", False, True, False, _manhattan, _paired_manhattan),
):
    DISTANCES.register(_kind.name)(_kind)


def get_distance(name: str) -> DistanceKind:
    """The registered kind ``name``, or a ValueError listing the registered kinds."""
    if not isinstance(name, str) or name not in DISTANCES:
        raise ValueError(f"unknown distance/similarity '{name}'; registered: {', '.join(DISTANCES.names())}")
    return DISTANCES.get(name)


def check_kind(objective: str, key: str, name: str, accepted: tuple[str, ...] | None, why: str = "") -> DistanceKind:
    """``name`` as a kind ``objective`` can use through its constructor keyword ``key``, or a ValueError naming
    the objective, the kind and the kinds it accepts."""
    kind = get_distance(name)
    if accepted is not None and name not in accepted:
        reason = f": {why}" if why else ""
        raise ValueError(f"objective '{objective}' cannot use {key} '{name}'{reason}; "
                         f"use one of {', '.join(accepted)}")
    return kind


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance = "euclidean") -> torch.Tensor:
    """Distances between every row of ``a`` (B, D) and of ``b`` (M, D) -> (B, M), in float32 (see the module
    table: ``cosine`` is 1 - cos(a, b), ``dot`` is -a . b)."""
    return get_distance(kind).distance(a, b)


def paired_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance = "euclidean") -> torch.Tensor:
    """Row-wise distance between ``a`` (P, D) and ``b`` (P, D) -> (P,), in float32."""
    return get_distance(kind).paired_distance(a, b)


def pairwise_similarity(a: torch.Tensor, b: torch.Tensor, kind: Distance = "cosine") -> torch.Tensor:
    """Similarities between every row of ``a`` (B, D) and of ``b`` (M, D) -> (B, M), in float32 (distances are
    negated)."""
    return get_distance(kind).similarity(a, b)


#: kinds whose distance is 0 for identical embeddings and never negative (margin losses that pull a distance to
#: zero or push it beyond a margin need one)
NONNEGATIVE_DISTANCES: tuple[str, ...] = tuple(n for n in DISTANCES.names() if DISTANCES.get(n).nonnegative)
