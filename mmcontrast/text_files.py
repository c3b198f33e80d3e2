"""Reading text files line by line (plain or gzip), with errors that name the file and line. A leaf module: the
data layer's text datasets and the word-level vocabulary (``words``) both read their files with it.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

from .errors import DataError


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
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


def nonblank_lines(path: str | Path, limit: int | None = None) -> list[str]:
    """The non-blank lines of a text file, stripped, in file order; ``limit`` keeps the first ones."""
    texts: list[str] = []
    for _, line in numbered_lines(Path(path)):
        if line.strip():
            texts.append(line.strip())
            if limit is not None and len(texts) >= limit:
                break
    return texts
