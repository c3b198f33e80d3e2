"""Local text files (mmcontrast.data.text): errors name the right line."""

from __future__ import annotations

import gzip

import pytest

from mmcontrast.data import DataError
from mmcontrast.data.text import text_lines, tsv

# characters str.splitlines (and a text reader with newline="") takes for line breaks; inside a line they are text
ODD_BREAKS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def bad_file(path, good: int = 1499) -> None:
    """``good`` good lines (with every odd line-break character sprinkled in), then invalid bytes."""
    lines = [f"sentence {i} {ODD_BREAKS[i % len(ODD_BREAKS)]} with an odd break" for i in range(good)]
    data = "\n".join(lines).encode("utf-8") + b"\n" + b"\xe9 \xff\xfe\nlast line\n"
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("name", ["nonutf8.txt", "nonutf8.txt.gz"])
def test_bad_utf8_is_reported_at_its_own_line(tmp_path, name):
    """B10: the bytes on line 1500 were reported at line 1410 (chunked decoding; \\r counted as a line break)."""
    path = tmp_path / name
    bad_file(path)
    with pytest.raises(DataError, match=rf"^{path}:1500: not valid UTF-8 \(invalid continuation byte at byte 1 "):
        text_lines(str(path))


def test_odd_line_break_characters_stay_inside_their_line(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_bytes("a\rb\x85c\u2028d\nsecond\r\n".encode("utf-8"))
    assert [row["text"] for row in text_lines(str(path))] == ["a\rb\x85c\u2028d", "second"]
    path = tmp_path / "odd.tsv"
    path.write_bytes("x\ty\na\u2028b\tc\nonly one field\n".encode("utf-8"))
    with pytest.raises(DataError, match=r"odd.tsv:3: expected 2 tab-separated fields"):
        tsv(str(path))
