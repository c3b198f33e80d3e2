"""Semi-hard negative mining (Schroff, Kalenichenko & Philbin 2015, "FaceNet"): for an anchor-positive pair, a
negative that is farther from the anchor than the positive, yet the closest such one (within the margin when one
is given)."""

from __future__ import annotations

import torch

from ..citations import FACENET
from .base import Mined, Miner


class SemiHardMiner(Miner):
    """For every (anchor a, positive p) pair: the negative n with the largest closeness c(a, n) among those with
    c(a, n) < c(a, p) (farther than the positive), and with ``margin`` set also c(a, n) > c(a, p) - margin (inside
    the margin, where the triplet loss is not yet zero; closeness is the negated distance for distance kinds).
    Pairs without such a negative are dropped.

    Args:
        margin: the semi-hard band's width in the loss's distance units, or None for no upper bound.
    """

    card_summary = (
        "semi-hard negative mining (FaceNet, Schroff et al., 2015): per anchor-positive pair, the closest "
        "negative farther than the positive"
    )
    citation = FACENET

    name = "semi_hard"

    def __init__(self, margin: float | None = None) -> None:
        if margin is not None and margin <= 0:
            raise ValueError(f"miner.margin must be > 0, got {margin}")
        self.margin = margin

    @torch.no_grad()
    def __call__(self, closeness: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> Mined:
        a, p = positive.nonzero().unbind(1)  # (P,) each
        row = closeness[a]  # (P, M)
        c_ap = closeness[a, p][:, None]
        candidate = negative[a] & (row < c_ap)
        if self.margin is not None:
            candidate &= row > c_ap - self.margin
        n = row.masked_fill(~candidate, -torch.finfo(row.dtype).max).argmax(1)
        keep = candidate.any(1)
        triplets = torch.stack([a[keep], p[keep], n[keep]], dim=1)
        return Mined(triplets=triplets, shape=tuple(closeness.shape))
