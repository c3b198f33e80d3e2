"""Config-time checks of how an objective composes with its similarity/distance, a miner and the view.

Run by ``config.validate`` before anything is built, so a bad combination fails with a message naming both
parts: a loss given a distance it cannot use, a miner on an objective that reads no pairs or triplets, a miner
(or a label-only loss) on a view that gives no labels.
"""

from __future__ import annotations

import inspect
from typing import Any


def view_gives_labels(view: dict[str, Any]) -> bool:
    """Whether the view component yields ``labels``: a view class may say so with a ``gives_labels(params)``
    classmethod; otherwise an image view does when its ``label_column`` is set (or ``predict_rotation``, whose
    labels are the rotations), and the other views give none."""
    from ..views import VIEWS

    params = {k: v for k, v in view.items() if k != "name"}
    factory = VIEWS.get(view["name"])
    declared = getattr(factory, "gives_labels", None)
    if callable(declared):
        return bool(declared(params))
    return params.get("label_column") is not None or params.get("predict_rotation") is True


def objectives_with_miner() -> list[str]:
    from . import OBJECTIVES

    return [n for n in OBJECTIVES.names() if "miner" in inspect.signature(OBJECTIVES.get(n)).parameters]


def check_composition(objective: dict[str, Any], miner: dict[str, Any] | None, view: dict[str, Any],
                      dataset: dict[str, Any] | None = None) -> None:
    """ValueError when ``objective`` cannot use its similarity/distance, or ``miner`` cannot be used with the
    objective or with the data (``view`` / ``dataset`` components give no labels)."""
    from . import OBJECTIVES

    factory = OBJECTIVES.get(objective["name"])
    check = getattr(factory, "check_params", None)
    if check is not None:
        check({k: v for k, v in objective.items() if k != "name"}, objective["name"])
    if miner is None:
        return
    if "miner" not in inspect.signature(factory).parameters:
        raise ValueError(f"miner '{miner['name']}' cannot be used with objective '{objective['name']}', which reads "
                         f"no pairs or triplets; objectives that take a miner: {', '.join(objectives_with_miner())}")
    if not view_gives_labels(view):
        data = f" of data.train '{dataset['name']}'" if dataset else ""
        raise ValueError(f"miner '{miner['name']}' needs labelled data, but view '{view['name']}' gives no labels "
                         f"(set view.label_column to the label column{data}, or remove the miner)")
