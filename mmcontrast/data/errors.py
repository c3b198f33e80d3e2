"""Errors for bad data that name the file, line or column involved."""

from typing import Any, Callable, Sequence

from ..errors import DataError

__all__ = ["DataError", "check_nonempty_strings", "missing_column"]


def missing_column(column: str, available: list[str], where: str) -> DataError:
    return DataError(f"{where}: column '{column}' not found; the rows have columns: {', '.join(available)}")


def check_nonempty_strings(items: Sequence[Any], item_name: Callable[[int], str]) -> None:
    """DataError ``"<item_name(j)> is empty or not a string (<item>)"`` for the first item j of ``items`` that is not
    a string with a non-space character."""
    for position, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise DataError(f"{item_name(position)} is empty or not a string ({item!r})")
