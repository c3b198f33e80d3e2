"""Config-time checks of how an objective composes with its similarity/distance, a miner and the view.

Run by ``config.validate`` before anything is built, so a bad combination fails with a message naming both
parts: a loss given a distance it cannot use, a miner on an objective that reads no pairs or triplets, a miner
(or a label-only loss) on a view that gives no labels.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import OBJECTIVES


def objectives_with_miner() -> list[str]:
    return [n for n in OBJECTIVES.names() if "miner" in inspect.signature(OBJECTIVES.get(n)).parameters]


def check_composition(objective: dict[str, Any], miner: dict[str, Any] | None, view: str,
                      view_gives: frozenset[str], dataset: dict[str, Any] | None = None) -> None:
    """ValueError when ``objective`` cannot use its similarity/distance, or ``miner`` cannot be used with the
    objective or with the data: the view (registry name ``view``) gives no labels (``"labels"`` not among
    ``view_gives``, what the view declares it gives: ``View.outputs``)."""
    factory = OBJECTIVES.get(objective["name"])
    check = getattr(factory, "check_params", None)
    if check is not None:
        check({k: v for k, v in objective.items() if k != "name"}, objective["name"])
    if miner is None:
        return
    if "miner" not in inspect.signature(factory).parameters:
        raise ValueError(f"miner '{miner['name']}' cannot be used with objective '{objective['name']}', which reads "
                         f"no pairs or triplets; objectives that take a miner: {', '.join(objectives_with_miner())}")
    if "labels" not in view_gives:
        data = f" of data.train '{dataset['name']}'" if dataset else ""
        raise ValueError(f"miner '{miner['name']}' needs labelled data, but view '{view}' gives no labels "
                         f"(set view.label_column to the label column{data}, or remove the miner)")
