"""What a miner returns, and the two shapes pair and triplet losses read it in.

A miner looks at a (A, M) closeness matrix between A anchors and a pool of M embeddings (larger = closer: the
loss's own similarity, or its distance negated) and the label structure (which pool columns are positives and
which are negatives of each anchor), and selects WITHOUT gradient which pairs or triplets the loss sees. Any
pair loss can read the pairs of a triplet miner and any triplet loss the triplets of a pair miner:

- triplets -> pairs: every (anchor, positive) and (anchor, negative) of a mined triplet;
- pairs -> triplets: every mined positive of an anchor with every mined negative of the same anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ComponentRuleError


@dataclass
class Mined:
    """Mined pairs or triplets over an (A, M) anchor x pool matrix.

    Attributes:
        positive_pairs: (A, M) bool, the (anchor, positive) pairs kept (a pair miner), or None.
        negative_pairs: (A, M) bool, the (anchor, negative) pairs kept, or None.
        triplets: (T, 3) long rows (anchor row, positive column, negative column) (a triplet miner), or None.
    """

    positive_pairs: torch.Tensor | None = None
    negative_pairs: torch.Tensor | None = None
    triplets: torch.Tensor | None = None
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if (self.triplets is None) == (self.positive_pairs is None):
            raise ValueError("Mined holds either triplets or positive/negative pairs")
        if self.triplets is None and self.negative_pairs is None:
            raise ValueError("Mined pairs need both positive_pairs and negative_pairs")
        if self.shape is None:
            if self.positive_pairs is None:
                raise ValueError("Mined triplets need the (A, M) shape of the matrix they index")
            self.shape = tuple(self.positive_pairs.shape)

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(positive, negative) boolean (A, M) masks; a triplet miner's triplets give their pairs."""
        if self.positive_pairs is not None and self.negative_pairs is not None:
            return self.positive_pairs, self.negative_pairs
        assert self.triplets is not None and self.shape is not None
        device = self.triplets.device
        positive = torch.zeros(self.shape, dtype=torch.bool, device=device)
        negative = torch.zeros(self.shape, dtype=torch.bool, device=device)
        a, p, n = self.triplets.unbind(1)
        positive[a, p] = True
        negative[a, n] = True
        return positive, negative

    def triplet_index(self) -> torch.Tensor:
        """(T, 3) long (anchor, positive, negative); a pair miner's pairs give every positive x negative of the
        same anchor."""
        if self.triplets is not None:
            return self.triplets
        assert self.positive_pairs is not None and self.negative_pairs is not None
        rows = []
        for a in range(self.positive_pairs.shape[0]):
            pos = self.positive_pairs[a].nonzero().flatten()
            neg = self.negative_pairs[a].nonzero().flatten()
            if pos.numel() and neg.numel():
                grid = torch.cartesian_prod(pos, neg).reshape(-1, 2)
                rows.append(torch.cat([torch.full_like(grid[:, :1], a), grid], dim=1))
        if not rows:
            return torch.zeros((0, 3), dtype=torch.long, device=self.positive_pairs.device)
        return torch.cat(rows)


class Miner:
    """Selects pairs or triplets: ``__call__(closeness (A, M), positive (A, M) bool, negative (A, M) bool) ->
    Mined``. ``closeness`` is larger for closer pairs and carries no gradient; ``positive`` excludes each anchor's
    own column."""

    name = "miner"

    @classmethod
    def check_config(cls, config: dict[str, Any], view_gives: frozenset[str]) -> None:
        """A miner reads labels: the run's view must give them (``labels`` among what it declares it gives)."""
        if "labels" not in view_gives:
            miner, view, data = config["miner"]["name"], config["view"]["name"], config["data"]["train"]["name"]
            raise ComponentRuleError("miner", f"miner '{miner}' needs labelled data, but view '{view}' gives no labels "
                                     f"(set view.label_column to the label column of data.train '{data}', or remove "
                                     "the miner)")

    def __call__(self, closeness: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> Mined:
        raise NotImplementedError  # pragma: no cover - interface

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"
