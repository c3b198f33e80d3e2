"""Jigsaw views: an image and its tile-shuffled variant are positives (PIRL, Misra & van der Maaten 2020,
"Self-Supervised Learning of Pretext-Invariant Representations"; the jigsaw transform of Noroozi & Favaro
2016, "Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles")."""

from __future__ import annotations

from typing import Any

import torch

from ..citations import PIRL
from ..errors import ComponentRuleError
from .augment import ImageAugmentation, _pair, _rand, resized_crop
from .base import TILES, ViewBatch
from .image import ImageView, augment_config

Tensor = torch.Tensor


def split_tiles(images: Tensor, grid: int) -> Tensor:
    """(B, C, H, W) -> (B, grid * grid, C, H / grid, W / grid), tiles in row-major order."""
    b, c, height, width = images.shape
    th, tw = height // grid, width // grid
    return images.view(b, c, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, c, th, tw)


def merge_tiles(tiles: Tensor, grid: int) -> Tensor:
    """(B, grid * grid, C, th, tw) -> (B, C, grid * th, grid * tw); the inverse of ``split_tiles``."""
    b, _, c, th, tw = tiles.shape
    return tiles.view(b, grid, grid, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, grid * th, grid * tw)


def jigsaw_shuffle(
    images: Tensor, grid: int = 3, tile_jitter: float = 0.0, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Cut each image (B, C, H, W) into grid x grid tiles, crop each tile at a random position to
    (1 - ``tile_jitter``) of its side and resize it back (Noroozi & Favaro's gap between tiles, which hides
    edge continuity), then put the tiles back in a random order per sample.

    Returns (shuffled (B, C, H, W), permutation (B, grid * grid) long) where output tile p of sample i is
    input tile ``permutation[i, p]``. H and W must be divisible by ``grid``.
    """
    tiles, permutation = shuffled_tiles(images, grid, tile_jitter, generator)
    return merge_tiles(tiles, grid), permutation


def shuffled_tiles(
    images: Tensor, grid: int = 3, tile_jitter: float = 0.0, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """``jigsaw_shuffle`` before the tiles are put back together: (tiles (B, grid * grid, C, H / grid, W / grid)
    in their shuffled order, permutation (B, grid * grid) long), the same random draws for the same generator."""
    b, c, height, width = images.shape
    if height % grid or width % grid:
        raise ValueError(f"jigsaw_shuffle: image size {height}x{width} is not divisible by grid {grid}")
    n = grid * grid
    u = _rand((b, 3 * n), generator, images.device)
    tiles = split_tiles(images, grid)  # (B, n, C, th, tw)
    th, tw = tiles.shape[-2:]
    if tile_jitter > 0:
        keep_h, keep_w = (1.0 - tile_jitter) * th, (1.0 - tile_jitter) * tw
        x0, y0 = u[:, n:2 * n] * (tw - keep_w), u[:, 2 * n:] * (th - keep_h)  # (B, n) offsets inside each tile
        boxes = torch.stack((x0, y0, x0 + keep_w, y0 + keep_h), dim=-1).reshape(b * n, 4)
        tiles = resized_crop(tiles.reshape(b * n, c, th, tw), boxes, (th, tw)).view(b, n, c, th, tw)
    permutation = torch.argsort(u[:, :n], dim=1)  # uniform random permutation per sample
    rows = torch.arange(b, device=images.device).unsqueeze(1)
    return tiles[rows, permutation], permutation


class Jigsaw(ImageView):
    """PIRL-style pair: ViewBatch(query = an augmented view of each image cut into ``grid`` x ``grid`` tiles,
    each tile jittered and the tiles shuffled by a random permutation per sample (B, C, S, S), positive = an
    independently augmented view of the intact image (B, C, S, S), labels, indices). By default the encoder sees
    the reassembled image, so any backbone works unchanged; ``encode_tiles: true`` does what PIRL does instead:
    the query is the shuffled tiles (B, n, C, S / grid, S / grid), each embedded on its own by the shared trunk,
    and the run's ``tile_head`` (PIRL's g) combines them into the query embedding. The jigsaw variant is the query and the image the positive because a memory bank stores
    the first loss direction's positives: PIRL's memory holds the image embeddings f(I), and its loss contrasts
    the jigsaw embedding g(I^t) (and, with ``symmetric: mean``, f(I) too: lambda = 0.5) against them.

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        label_column: optional label column, passed on as ``labels``.
        augment: ``AugmentConfig`` fields for both views; ``size`` must be divisible by ``grid``.
        grid: tiles per side (Noroozi & Favaro, PIRL: 3).
        tile_jitter: fraction of each tile side cut away by its random crop (0 keeps tiles exact; Noroozi &
            Favaro crop 64 of 85 pixels, about 0.25).
        encode_tiles: pass the tiles instead of the reassembled image (needs ``tile_head`` in the config).
        seed, device: injected by the trainer.
    """

    card_summary = (
        "Jigsaw (PIRL, Misra & van der Maaten, 2020): every image and a copy with its tiles shuffled are "
        "positives"
    )
    citation = PIRL
    tags = ("pirl",)

    name = "jigsaw"

    @classmethod
    def outputs(cls, params: dict[str, Any]) -> frozenset[str]:
        """``gives`` (and ``labels`` with ``label_column``), and the tiles as the query with ``encode_tiles``."""
        return super().outputs(params) | ({TILES} if params.get("encode_tiles") is True else set())

    @classmethod
    def check_config(cls, config: dict[str, Any], view_gives: frozenset[str]) -> None:
        """``encode_tiles: true`` needs the run's ``tile_head`` (PIRL's g) to combine the tile embeddings."""
        if config["view"].get("encode_tiles") is True and config.get("tile_head") is None:
            raise ComponentRuleError("view.encode_tiles", "view.encode_tiles needs a tile_head that combines the tile "
                                     "embeddings into the query embedding, e.g. tile_head: {name: concat, tile_dim: "
                                     "128}")

    def __init__(
        self,
        column: str = "image",
        label_column: str | None = None,
        augment: dict[str, Any] | None = None,
        grid: int = 3,
        tile_jitter: float = 0.25,
        encode_tiles: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(column, label_column, seed, device)
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
            raise ValueError(f"view 'jigsaw': 'view.grid' must be an integer >= 2, got {grid!r}")
        if not 0.0 <= tile_jitter < 1.0:
            raise ValueError(f"view 'jigsaw': 'view.tile_jitter' must be in [0, 1), got {tile_jitter!r}")
        self.augmentation = ImageAugmentation(augment_config(augment))
        for side in _pair(self.augmentation.cfg.size):
            if side % grid:
                low, high = side // grid * grid, (side // grid + 1) * grid
                raise ValueError(f"view 'jigsaw': 'view.augment.size' {side} is not divisible by 'view.grid' "
                                 f"{grid}; use a multiple of {grid} such as {low or high} or {high}")
        if not isinstance(encode_tiles, bool):
            raise ValueError(f"view 'jigsaw': 'view.encode_tiles' must be true or false, got {encode_tiles!r}")
        self.grid, self.tile_jitter, self.encode_tiles = grid, tile_jitter, encode_tiles

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = self.images(batch)
        positive = self.augmentation(images, self.generator)
        view = self.augmentation(images, self.generator)
        tiles, _ = shuffled_tiles(view, self.grid, self.tile_jitter, self.generator)
        query = tiles if self.encode_tiles else merge_tiles(tiles, self.grid)
        return ViewBatch(query=query, positive=positive, labels=self.labels(batch), indices=self.indices(batch),
                         tiled_query=self.encode_tiles)
