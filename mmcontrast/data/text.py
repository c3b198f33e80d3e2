"""Text datasets from local files: one sentence per line, and tab-separated columns (plain or gzip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from ..text_files import nonblank_lines, numbered_lines
from .errors import DataError


class RowsDataset(Dataset):
    """An in-memory list of row dicts (str -> value); what every text loader returns."""

    def __init__(self, rows: list[dict[str, Any]], source: str) -> None:
        if not rows:
            raise DataError(f"{source}: the dataset is empty")
        self.rows = rows
        self.source = source
        self.column_names = list(rows[0])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


def text_lines(path: str, column: str = "text", limit: int | None = None) -> RowsDataset:
    """One text per line (blank lines skipped): rows ``{column: text}``. ``limit`` keeps the first rows."""
    return RowsDataset([{column: text} for text in nonblank_lines(path, limit)], path)


def tsv(
    path: str,
    columns: list[str] | None = None,
    header: bool = True,
    limit: int | None = None,
    allow_empty: bool = False,
) -> RowsDataset:
    """Tab-separated rows (``.gz`` allowed, no quoting: texts may contain quotes) -> rows keyed by column.

    Args:
        columns: column names; default: the header line.
        header: the first line holds column names (skipped as data).
        allow_empty: accept empty fields; by default an empty field is an error naming its line and column.
    """
    rows: list[dict[str, Any]] = []
    names = list(columns) if columns else None
    for line_no, line in numbered_lines(Path(path)):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header and line_no == 1:
            names = names or fields
            continue
        if names is None:
            raise DataError(f"{path}: no column names: set header: true or give columns")
        if len(fields) != len(names):
            raise DataError(
                f"{path}:{line_no}: expected {len(names)} tab-separated fields ({', '.join(names)}), "
                f"found {len(fields)}"
            )
        if not allow_empty:
            for name, value in zip(names, fields):
                if not value.strip():
                    raise DataError(f"{path}:{line_no}: column '{name}' is empty")
        rows.append(dict(zip(names, fields)))
        if limit is not None and len(rows) >= limit:
            break
    return RowsDataset(rows, path)
