"""In-batch negatives, optionally gathered across processes with gradient (SimCLR, SimCSE, CLIP, DPR)."""

from __future__ import annotations

import torch

from .base import Negatives


class InBatchNegatives(Negatives):
    """Every other positive (and hard negative) in the batch is a negative.

    Args:
        gather: pool the candidates of all processes (with gradient) so that the number of negatives grows
            with the number of processes, as in SimCLR's global batch and CLIP's all-gather. Each process
            keeps the loss of its own anchors; labels are offset by the rows of lower ranks.
    """

    card_summary = "in-batch: every other example of the batch (and any hard negatives) is a negative"

    def __init__(self, gather: bool = True) -> None:
        super().__init__()
        self.gather_across_processes = gather

    def gather(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        if not self.gather_across_processes:
            return x, 0
        return super().gather(x)
