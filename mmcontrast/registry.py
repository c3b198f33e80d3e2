"""One registry per axis (views, encoders, heads, negatives, objectives, evaluators, datasets).

Components are looked up by the exact name a config gives; an unknown name is an error that lists the
registered names and suggests the closest one. No string sniffing anywhere else.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """Return ' (did you mean 'x'?)' for the closest candidate, or '' when nothing is close."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


class Registry(Generic[T]):
    """A name -> factory map for one axis of the design."""

    def __init__(self, axis: str) -> None:
        self.axis = axis
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise KeyError(f"{self.axis} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        if name not in self._items:
            raise KeyError(
                f"unknown {self.axis} '{name}'{closest(name, self.names())}; "
                f"registered: {', '.join(self.names())}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
