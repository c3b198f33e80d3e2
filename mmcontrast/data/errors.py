"""Errors for bad data that name the file, line or column involved."""

from ..errors import DataError

__all__ = ["DataError", "missing_column"]


def missing_column(column: str, available: list[str], where: str) -> DataError:
    return DataError(f"{where}: column '{column}' not found; the rows have columns: {', '.join(available)}")
