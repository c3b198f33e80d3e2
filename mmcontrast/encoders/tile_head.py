"""PIRL's jigsaw head g (Misra & van der Maaten 2020, "Self-Supervised Learning of Pretext-Invariant
Representations", Sec. 4.2): each of the n tiles of a jigsaw-shuffled image is embedded on its own by the shared
trunk, projected, and the n projections, concatenated in their shuffled order, are projected to the size of the
image head's output, so that g(tiles of I) and f(I) live in one space and can be contrasted."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..citations import PIRL
from ..errors import ComponentRuleError


class TileHead(nn.Module):
    """(B, n, input_dim) trunk features of each sample's n tiles -> (B, output_dim): a linear projection of every
    tile to ``tile_dim`` (shared across tiles), concatenation in tile order (B, n * tile_dim), a linear projection
    to ``output_dim``. The paper: res5 features of 9 tiles, 128 per tile, 128 out.

    Args:
        input_dim: injected from the encoder's feature size.
        num_tiles: n, injected from the view (``grid`` squared).
        tile_dim: the per-tile projection's size.
        output_dim: the image branch's training embedding size (the ``head``'s output); injected when unset, and
            an error when set to anything else.

    The head is used by the training loss only (``train_only``): evaluation and export use the trunk.
    """

    card_summary = (
        "PIRL's tile head (Misra & van der Maaten, 2020): every tile's features projected, concatenated in tile "
        "order and projected again"
    )
    citation = PIRL
    tags = ("pirl",)

    @classmethod
    def check_config(cls, config: dict[str, Any], view_gives: frozenset[str]) -> None:
        """The run around a tile head: a view that gives jigsaw tiles as its query (``jigsaw`` with
        ``encode_tiles: true``: ``tiled_query`` among the view's declared outputs), one online tower and its own
        embeddings as keys (no target, no passage tower, no gradient caching)."""
        view = config["view"]
        if "tiled_query" not in view_gives:
            raise ComponentRuleError("tile_head", "tile_head combines jigsaw tiles: it needs view: {name: jigsaw, "
                                     f"encode_tiles: true}} (got view {view.get('name')!r} with encode_tiles "
                                     f"{view.get('encode_tiles')!r})")
        unsupported = {"target": config.get("target"), "passage_encoder": config.get("passage_encoder"),
                       "train.chunk_size": config["train"].get("chunk_size") or None}
        set_keys = [key for key, value in unsupported.items() if value is not None]
        if set_keys:
            raise ComponentRuleError(set_keys[0], "tile_head (per-tile jigsaw queries) works with one online tower and "
                                     f"its own embeddings as keys: unset {set_keys}")

    def __init__(self, input_dim: int, num_tiles: int, tile_dim: int = 128, output_dim: int | None = None) -> None:
        super().__init__()
        if num_tiles < 2:
            raise ValueError(f"tile_head: num_tiles must be >= 2, got {num_tiles}")
        if isinstance(tile_dim, bool) or not isinstance(tile_dim, int) or tile_dim < 1:
            raise ValueError(f"tile_head.tile_dim must be a positive integer, got {tile_dim!r}")
        if output_dim is None:
            raise ValueError("tile_head.output_dim is injected from the image head's output size")
        self.tile_projection = nn.Linear(input_dim, tile_dim)
        self.projection = nn.Linear(num_tiles * tile_dim, output_dim)
        self.num_tiles, self.output_dim, self.train_only = num_tiles, output_dim, True

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        if tiles.dim() != 3 or tiles.shape[1] != self.num_tiles:
            raise ValueError(f"tile_head expects (B, {self.num_tiles}, D) tile features, got {tuple(tiles.shape)}")
        return self.projection(self.tile_projection(tiles).flatten(1))

    def embed_tiles(self, trunk: nn.Module, tile_inputs: dict[str, torch.Tensor], batch: int) -> torch.Tensor:
        """PIRL's per-tile encoding: (B * n) tile inputs -> (B, output_dim) query embeddings. The shared trunk
        embeds every tile on its own (B * n, input_dim); this head combines each sample's n tile features."""
        features = trunk(tile_inputs)  # (B * n, input_dim)
        return self(features.reshape(batch, -1, features.shape[-1]))
