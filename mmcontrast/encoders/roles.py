"""Role preparation shared by the model classes: a ``ViewBatch`` (raw items by role) -> one ``StepBatch`` (the
model input of every role in ONE forward, and the ``RoleLayout`` that splits the embeddings again).

One forward for all roles: SimCSE's dropout twins come from the same call, BatchNorm sees both SimCLR views.
Every model class (``ContrastiveModel``, ``TwoTowerModel``, ``DualEncoderModel``) implements
``prepare_views(views) -> StepBatch`` with these pieces; the training loop never asks which class it holds."""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..batch import RoleLayout, StepBatch, ViewBatch

TILES_NEED_ONE_TOWER = "jigsaw tiles (view.encode_tiles) need a single vision tower (encoder: {name: vision})"


def other_roles(views: ViewBatch) -> list[Any]:
    """The positive (if any) then each hard-negative group: every role but the query, as lists of B items."""
    return ([views.positive] if views.positive is not None else []) + list(views.negatives or [])


def query_and_rest(views: ViewBatch) -> tuple[Any, Any]:
    """(query items, the other roles' items concatenated: positives then negatives). Images: (B, C, H, W) and
    ((1 + K) * B, C, H, W) or None; texts: two lists."""
    others = other_roles(views)
    if isinstance(views.query, torch.Tensor):
        return views.query, torch.cat(others, dim=0) if others else None
    return list(views.query), [item for group in others for item in group]


def layout_of(views: ViewBatch, crop_groups: tuple[int, ...] = (), query_tiles: int = 0) -> RoleLayout:
    """The role layout of ``views``' rows: query B, positive B or 0, negatives K x B, crop groups, sequence T."""
    return RoleLayout(len(views.query), views.positive is not None, len(views.negatives or []), crop_groups,
                      views.sequence_length or 0, query_tiles)


def step_batch(views: ViewBatch, inputs: dict[str, Any], layout: RoleLayout,
               crop_inputs: list[dict[str, Any]] | None = None) -> StepBatch:
    """The ``StepBatch`` of ``views``: inputs, layout, crop inputs, and the view's labels and indices."""
    return StepBatch(inputs, layout, list(crop_inputs or []), views.labels, views.indices)


def crop_group_inputs(
    prepare: Callable[..., dict[str, torch.Tensor]], crops: list[Any] | None
) -> tuple[list[dict[str, torch.Tensor]], tuple[int, ...]]:
    """Multi-crop views grouped by resolution, one input per group at its own size (``prepare(items,
    keep_size=True)``) -> (the inputs, the number of crops in each group)."""
    inputs: list[dict[str, torch.Tensor]] = []
    groups: list[int] = []
    for size in dict.fromkeys(tuple(c.shape[-2:]) for c in crops or []):
        same = [c for c in crops or [] if tuple(c.shape[-2:]) == size]
        inputs.append(prepare(torch.cat(same, dim=0), keep_size=True))
        groups.append(len(same))
    return inputs, tuple(groups)


def reject_tiles_and_crops(views: ViewBatch, model: str) -> None:
    """ValueError for jigsaw tiles or multi-crop views given to a model with more than one tower."""
    if views.tiled_query:
        raise ValueError(TILES_NEED_ONE_TOWER)
    if views.crops:
        raise ValueError(f"multi-crop views (crops) need a single tower, not a {model}")


def check_tiles(views: ViewBatch) -> torch.Tensor:
    """PIRL's tiled query: a (B, n, C, th, tw) tensor contrasted with one positive view (no hard negatives, no
    crops) -> the tiles; ValueError otherwise."""
    tiles = views.query
    if not isinstance(tiles, torch.Tensor) or tiles.dim() != 5:
        shape = getattr(tiles, "shape", type(tiles))
        raise ValueError(f"a tiled query must be a (B, n, C, th, tw) tensor, got {shape}")
    if views.positive is None or views.negatives or views.crops:
        raise ValueError("a tiled query is contrasted with one positive view: no hard negatives or crops")
    return tiles
