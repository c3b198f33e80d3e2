"""Strict JSON for everything a run writes (metrics, checkpoint state, printed results): NaN and infinities have
no JSON spelling (``json.dumps`` writes bare ``NaN``, which other readers reject), so they become ``null``."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (recursively in dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that writes non-finite floats as ``null`` and never emits invalid JSON."""
    return json.dumps(finite_or_none(value), allow_nan=False, **kwargs)
