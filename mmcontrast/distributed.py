"""Process-group helpers that work with and without an initialised ``torch.distributed`` group.

Cross-process negatives must be gathered WITH gradient: ``accelerator.gather`` carries none. We use the
autograd collective ``torch.distributed.nn.functional.all_gather``, whose backward sums the gradients of every
process onto the owner of the rows. Each process then computes its loss on its local rows only, and DDP's
gradient averaging turns the sum over processes into the gradient of the mean loss over the global batch,
which is exactly the single-process gradient over the concatenated batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate ``x`` (n_r, ...) from every process along dim 0, keeping the autograd graph.

    Processes may hold different numbers of rows (a short last batch): rows are padded to the largest
    count for the collective and the padding is dropped afterwards.

    Returns:
        (global rows (sum_r n_r, ...), offset of this process's rows in the global tensor)
    """
    if not is_distributed() or world_size() == 1:
        return x, 0
    import torch.distributed.nn  # noqa: F401  (registers torch.distributed.nn.functional)
    from torch.distributed.nn.functional import all_gather

    counts = gather_counts(x.shape[0], x.device)
    largest = max(counts)
    padded = x
    if x.shape[0] < largest:
        padding = x.new_zeros((largest - x.shape[0], *x.shape[1:]))
        padded = torch.cat([x, padding], dim=0)
    parts = all_gather(padded)
    rows = torch.cat([part[:count] for part, count in zip(parts, counts)], dim=0)
    return rows, sum(counts[: rank()])


def gather_counts(count: int, device: torch.device) -> list[int]:
    """Every process's row count, in rank order."""
    if not is_distributed():
        return [count]
    local = torch.tensor([count], device=device, dtype=torch.long)
    counts = [torch.zeros_like(local) for _ in range(world_size())]
    dist.all_gather(counts, local)
    return [int(c.item()) for c in counts]


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process without gradient (for queues, banks and labels)."""
    if not is_distributed() or world_size() == 1:
        return x
    counts = gather_counts(x.shape[0], x.device)
    largest = max(counts)
    padded = x
    if x.shape[0] < largest:
        padded = torch.cat([x, x.new_zeros((largest - x.shape[0], *x.shape[1:]))], dim=0)
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:count] for part, count in zip(parts, counts)], dim=0)
