"""Collating row dicts into a batch dict."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from .errors import DataError


def collate_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows -> {column: list of str | stacked tensor (B, ...) | long tensor (B,)}. Tensors of different shapes in
    one column are a ``DataError`` naming both shapes and the odd row (its file when the loader recorded one)."""
    batch: dict[str, Any] = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        first = values[0]
        if isinstance(first, torch.Tensor):
            _check_same_shape(values, key)
            batch[key] = torch.stack(values)
        elif isinstance(first, bool) or not isinstance(first, (int, float)):
            batch[key] = values
        else:
            batch[key] = torch.tensor(values)
    return batch


def _check_same_shape(values: list[Any], column: str) -> None:
    shapes = [tuple(v.shape) if isinstance(v, torch.Tensor) else None for v in values]
    if len(set(shapes)) <= 1:
        return
    common = Counter(shapes).most_common(1)[0][0]
    odd = next(i for i, shape in enumerate(shapes) if shape != common)
    usual = next(i for i, shape in enumerate(shapes) if shape == common)
    what = getattr(values[odd], "source", None)
    where = f"{what} (row {odd} of the batch)" if what else f"row {odd} of the batch"
    fix = ""
    if common is not None and shapes[odd] is not None and len(common) == len(shapes[odd]) == 3:  # images (C, H, W)
        hints = []
        if common[1:] != shapes[odd][1:]:
            hints.append("set data.train.image_size=N to resize every image to N x N")
        if common[0] != shapes[odd][0]:
            hints.append("set data.train.image_mode=RGB (or L) to give every image the same channels")
        fix = "; " + " and ".join(hints)
    raise DataError(f"column '{column}': {where} has shape {shapes[odd]} but row {usual} has {common}; the rows of a "
                    f"batch must have one shape{fix}")
