"""The type rules config values are checked with, shared by the config schema and the components that check their
own nested settings (a view's augmentation). A leaf module: no mmcontrast imports."""

from __future__ import annotations

import types
import typing
from typing import Any


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as YAML gives it) fits the annotation ``hint``: an int is a float, a bool is not a number,
    any list or tuple fits ``list[...]`` / ``tuple[...]``, and an annotation this does not know fits anything."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


def describe(hint: Any) -> str:
    """``hint`` as a user reads it: ``float or null``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    origin = typing.get_origin(hint)
    return (origin or hint).__name__ if isinstance(origin or hint, type) else str(hint)
