"""Where candidates come from: the ``Negatives`` interface shared by every contrastive objective."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..distributed import gather_with_grad


class Negatives(nn.Module):
    """Builds the candidate pool an anchor is contrasted against.

    A negatives object is composed into an objective; objectives never own queues or gathering logic.
    """

    def gather(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Rows (n, ...) -> (pool rows (N, ...), offset of the local rows inside the pool). By default the rows of
        every process, gathered WITH gradient (a no-op in a single process)."""
        return gather_with_grad(x)

    def candidates(
        self,
        positives: torch.Tensor,
        hard_negatives: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate pool for InfoNCE-style objectives.

        Args:
            positives: (B, D) the positive of each local anchor.
            hard_negatives: (B, K, D) negatives owned by each local anchor, or None.
            indices: (B,) dataset rows of the anchors (used by index-addressed negatives), or None.

        Returns:
            candidates (M, D) and positive_index (B,): anchor i's positive is ``candidates[positive_index[i]]``.
            Every other row is a negative for anchor i, including other anchors' hard negatives. By default the
            gathered positives, then the gathered hard negatives, then the ``stored_keys``.
        """
        pool, offset = self.gather(positives)
        parts = [pool]
        if hard_negatives is not None:
            flat = hard_negatives.reshape(-1, hard_negatives.shape[-1])
            parts.append(self.gather(flat)[0])
        stored = self.stored_keys(pool.dtype)
        if stored is not None:
            parts.append(stored)
        index = offset + torch.arange(positives.shape[0], device=positives.device)
        return torch.cat(parts, dim=0), index

    def stored_keys(self, dtype: torch.dtype) -> torch.Tensor | None:
        """Keys kept from past batches (S, D) in ``dtype``, detached, appended to the candidates; None here."""
        return None

    def check_global_batch(self, global_batch: int) -> None:
        """ConfigError (before training) when these negatives cannot work with ``global_batch`` rows per step
        across all processes. Nothing to check here."""

    def update(self, keys: Sequence[torch.Tensor], indices: torch.Tensor | None = None) -> None:
        """Called once per forward after the loss, without gradient, with the keys of each loss direction
        ((B, D) each, as the objective saw them): queues enqueue them, memory banks write them. No-op here."""
