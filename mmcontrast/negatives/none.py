"""No negatives: for objectives that need none (BYOL, SimSiam, Barlow Twins, VICReg)."""

from __future__ import annotations

import torch

from .base import Negatives


class NoNegatives(Negatives):
    """A candidate pool of the positives alone; objectives that use no negatives never ask for more."""

    card_summary = "none (the objective uses no negatives)"

    def __init__(self) -> None:
        super().__init__()

    def gather(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return x, 0
