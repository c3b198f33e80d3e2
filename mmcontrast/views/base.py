"""Views: a pretext task turns a batch of rows into named views by role (query, positive, negatives)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..batch import Items, ViewBatch
from ..data.errors import missing_column


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
