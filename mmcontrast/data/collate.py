"""Collating row dicts into a batch dict."""

from __future__ import annotations

from typing import Any

import torch


def collate_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows -> {column: list of str | stacked tensor (B, ...) | long tensor (B,)}."""
    batch: dict[str, Any] = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        first = values[0]
        if isinstance(first, torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(first, bool) or not isinstance(first, (int, float)):
            batch[key] = values
        else:
            batch[key] = torch.tensor(values)
    return batch
