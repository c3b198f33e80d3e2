"""Config-time checks of how an objective composes with its similarity/distance and a miner.

Run by ``config.validate`` before anything is built, so a bad combination fails with a message naming both
parts: a loss given a distance it cannot use, a miner on an objective that reads no pairs or triplets.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import OBJECTIVES


def objectives_with_miner() -> list[str]:
    return [n for n in OBJECTIVES.names() if "miner" in inspect.signature(OBJECTIVES.get(n)).parameters]


def check_composition(objective: dict[str, Any], miner: dict[str, Any] | None) -> None:
    """ValueError when ``objective`` cannot use its similarity/distance, or ``miner`` cannot be used with the
    objective (whether the data gives the miner labels is the miner's own ``check_config``)."""
    factory = OBJECTIVES.get(objective["name"])
    check = getattr(factory, "check_params", None)
    if check is not None:
        check({k: v for k, v in objective.items() if k != "name"}, objective["name"])
    if miner is None:
        return
    if "miner" not in inspect.signature(factory).parameters:
        raise ValueError(f"miner '{miner['name']}' cannot be used with objective '{objective['name']}', which reads "
                         f"no pairs or triplets; objectives that take a miner: {', '.join(objectives_with_miner())}")
