"""The dataset registry ``DATASETS`` and ``build_dataset``, apart from the datasets the package registers, so that a
dataset built over another dataset component (``labelled_captions``) can build it without importing the package
it is part of."""

from __future__ import annotations

from typing import Any

from ..registry import Registry

DATASETS: Registry = Registry("dataset")


def build_dataset(component: dict) -> Any:
    """Instantiate a dataset component ``{name: ..., **params}``."""
    params = {k: v for k, v in component.items() if k != "name"}
    return DATASETS.get(component["name"])(**params)
