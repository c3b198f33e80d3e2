"""Text datasets from local files: one sentence per line, and tab-separated columns (plain or gzip)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Iterator

from torch.utils.data import Dataset

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


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line ending) of each line. Lines end at ``\\n`` only (a ``\\r\\n``
    ending is stripped), as editors and ``wc -l`` count them: each line is decoded on its own, so bytes that are not
    UTF-8 are reported on their own line (decoding the file in chunks reported the line the chunk started after), and
    ``\\r``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` inside a line stay part of its text."""
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{line_no}: not valid UTF-8 ({err.reason} at byte {err.start + 1} of the "
                                f"line: {raw[err.start:err.start + 4]!r})") from None
            yield line_no, line.rstrip("\r\n")


def text_lines(path: str, column: str = "text", limit: int | None = None) -> RowsDataset:
    """One text per line (blank lines skipped): rows ``{column: text}``. ``limit`` keeps the first rows."""
    rows = []
    for _, line in _numbered_lines(Path(path)):
        if line.strip():
            rows.append({column: line.strip()})
            if limit is not None and len(rows) >= limit:
                break
    return RowsDataset(rows, path)


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
    for line_no, line in _numbered_lines(Path(path)):
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
