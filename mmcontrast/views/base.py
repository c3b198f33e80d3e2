"""Views: a pretext task turns a batch of rows into named views by role (query, positive, negatives)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import torch

from ..data.errors import missing_column

Items = Sequence[str] | torch.Tensor


@dataclass
class ViewBatch:
    """Raw inputs by role, before encoding.

    Attributes:
        query: B items (texts, or images (B, C, H, W)).
        positive: B items or None.
        negatives: K lists of B items (``negatives[k][i]`` is anchor i's k-th hard negative), or None.
        labels: (B,) long or None.
        crops: V further views of the same B samples (``crops[v][i]`` is a view of sample i), possibly at
            another resolution than query/positive: multi-crop's local crops (Caron et al. 2020, SwAV).
            Embedded in one forward per resolution.
        indices: (B,) long dataset row of each sample, for index-addressed negatives (memory bank), or None.
        tiled_query: True when ``query`` holds each sample's jigsaw tiles (B, n, C, th, tw) rather than images:
            every tile is embedded on its own by the shared trunk and the learner's tile head combines a sample's
            n tile features into its query embedding (PIRL's g; view ``jigsaw`` with ``encode_tiles: true``).
        sequence_length: T when ``query`` holds B sequences of T items each, flattened sequence by sequence
            (B * T items; contrastive predictive coding): the model then forms the (prediction, target) pairs
            itself (``sequence_batches``, encoder ``cpc``); None for every pair-wise view.
    """

    query: Items
    positive: Items | None = None
    negatives: list[Items] | None = None
    labels: torch.Tensor | None = None
    crops: list[Items] | None = None
    indices: torch.Tensor | None = None
    sequence_length: int | None = None
    tiled_query: bool = False


# What a view may give besides ``query`` (the ViewBatch fields a config rule can ask for)
LABELS, INDICES, CROPS, TILES = "labels", "indices", "crops", "tiled_query"


class View:
    """A pretext task: ``__call__(batch) -> ViewBatch``. Views holding randomness own a ``torch.Generator``
    whose state is checkpointed with the run.

    A view declares what its batches carry (``gives``: a set of ``LABELS``, ``INDICES``, ``CROPS``, ``TILES``), so
    the config's rules (a miner needs labels, a tile head needs tiles) read the declaration, not parameter names;
    ``outputs(params)`` adds what a parameter switches on (``label_column``)."""

    generator: torch.Generator | None = None
    #: what every batch of this view carries besides query / positive / negatives (``indices``: when the dataset
    #: rows have an ``index`` column)
    gives: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def outputs(cls, params: dict[str, Any]) -> frozenset[str]:
        """What a view built with ``params`` (its config section less ``name``) gives: ``gives`` by default."""
        return cls.gives

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:  # pragma: no cover - interface
        raise NotImplementedError


def column(batch: dict[str, Any], name: str, view: str) -> Any:
    """``batch[name]``, or an error naming the columns that exist."""
    if name not in batch:
        raise missing_column(name, list(batch), f"view '{view}'")
    return batch[name]
