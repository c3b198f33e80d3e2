"""Errors for bad data that name the file, line or column involved."""


class DataError(ValueError):
    """Bad training or evaluation data; the message names the file and line, or the row and column."""


def missing_column(column: str, available: list[str], where: str) -> DataError:
    return DataError(f"{where}: column '{column}' not found; the rows have columns: {', '.join(available)}")
