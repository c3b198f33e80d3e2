"""The card text of a run's components, read from the components themselves.

Every registered view, encoder, head, tile head, target, negatives, objective and miner carries class attributes:
``card_summary`` (one line: the method, its paper, what it does), ``citation`` (BibTeX, when it implements a
paper) and ``tags`` (Hub tags). The model cards are assembled from them, so a new component is described on the
card as soon as it is registered.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import AXES, with_defaults

# config key -> registry axis of the components a card describes, in the card's order
CARD_AXES: tuple[tuple[str, str], ...] = (
    ("view", "views"),
    ("encoder", "encoders"),
    ("passage_encoder", "encoders"),
    ("objective", "objectives"),
    ("negatives", "negatives"),
    ("head", "heads"),
    ("passage_head", "heads"),
    ("target", "targets"),
    ("predictor", "heads"),
    ("tile_head", "tile_heads"),
    ("miner", "miners"),
)


def component_class(component: dict[str, Any] | None, axis: str) -> Any:
    """The registered class (factory) of ``component``, or None for no component or an unknown name."""
    if not component or "name" not in component:
        return None
    try:
        return AXES[axis].get(component["name"])
    except KeyError:
        return None


def component_params(component: dict[str, Any] | None, axis: str) -> dict[str, Any]:
    """A component's parameters with its factory's defaults filled in (the given ones when it is unknown)."""
    if not component:
        return {}
    if component_class(component, axis) is None:
        return {k: v for k, v in component.items() if k != "name"}
    return with_defaults(component, axis)


def summary(component: dict[str, Any], axis: str) -> str:
    """The component's ``card_summary`` (no final period), or ``custom `name``` when it has none."""
    text = str(getattr(component_class(component, axis), "card_summary", "") or "").strip().rstrip(".")
    return text or f"custom `{component.get('name')}`"


def _run_components(cfg: Any) -> list[tuple[dict[str, Any], str]]:
    found = []
    for key, axis in CARD_AXES:
        component = getattr(cfg, key, None)
        if isinstance(component, dict) and "name" in component:
            found.append((component, axis))
    return found


def run_tags(cfg: Any) -> list[str]:
    """The Hub tags of the run's components, in card order, without repeats."""
    tags = [t for c, axis in _run_components(cfg) for t in getattr(component_class(c, axis), "tags", ()) or ()]
    return list(dict.fromkeys(tags))


def run_citations(cfg: Any) -> list[str]:
    """The BibTeX entries of the papers the run's components implement, one per entry, without repeats."""
    entries: list[str] = []
    for component, axis in _run_components(cfg):
        citation = getattr(component_class(component, axis), "citation", None)
        if citation:
            entries.extend(e.strip() for e in re.split(r"\n\s*(?=@)", citation.strip()) if e.strip())
    return list(dict.fromkeys(entries))
