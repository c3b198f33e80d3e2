"""The labelled anchor/pool layout shared by label-aware objectives (triplet, pairwise with a miner, lifted
structured, circle, multi-similarity, soft nearest neighbour), and a mean over the global batch.

Every view of every LOCAL sample is an anchor; the pool holds every view of every sample of the GLOBAL batch
(gathered with gradient through the objective's ``Negatives``) plus the hard negatives. Samples with the same label
are positives of each other; without labels, ``query[i]`` and ``positive[i]`` form a class of their own (instance
discrimination); hard negatives get labels no anchor has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.distributed as dist

from ..batch import EmbeddingBatch
from ..distributed import gather_no_grad, is_distributed, world_size
from ..negatives import Negatives

if TYPE_CHECKING:
    from ..miners import Miner
    from .base import Objective


@dataclass
class LabelledPool:
    """Anchors against a pool that contains them.

    Attributes:
        anchors: (A, D) the local views, view-major ([query; positive]).
        anchor_labels: (A,).
        pool: (M, D) the global views, view-major, then the gathered hard negatives.
        pool_labels: (M,).
        self_index: (A,) column of each anchor inside the pool.
    """

    anchors: torch.Tensor
    anchor_labels: torch.Tensor
    pool: torch.Tensor
    pool_labels: torch.Tensor
    self_index: torch.Tensor

    def masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(positive, negative) boolean (A, M) masks: same label and not itself; different label."""
        same = self.anchor_labels[:, None] == self.pool_labels[None, :]
        is_self = torch.zeros_like(same)
        is_self[torch.arange(self.anchors.shape[0], device=same.device), self.self_index] = True
        return same & ~is_self, ~same


def labelled_pool(
    batch: EmbeddingBatch,
    negatives: Negatives,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    what: str = "this objective",
    objective: "Objective | None" = None,
) -> LabelledPool:
    """Anchors and pool of ``batch`` (views ``query`` and ``positive`` if present, ``labels`` if present, hard
    ``negatives`` if present), each view passed through ``transform`` (e.g. L2 normalisation) first. With
    ``objective``, a pool that holds only the anchors' own views (one row per global batch, no hard negatives: no
    negative at all) is a ConfigError (``Objective.require_negatives``)."""
    transform = transform or (lambda x: x)
    views = [batch.query] if batch.positive is None else [batch.query, batch.positive]
    views = [transform(v) for v in views]
    pools, offset = [], 0
    for view in views:
        gathered, offset = negatives.gather(view)
        pools.append(gathered)
    n_global, n_local = pools[0].shape[0], batch.batch_size
    device = batch.query.device
    local = offset + torch.arange(n_local, device=device)
    if batch.labels is not None:
        labels = batch.labels
        global_labels = gather_no_grad(labels) if n_global != n_local else labels
    else:
        if batch.positive is None:
            raise ValueError(f"{what} needs labels or a positive view (EmbeddingBatch.labels and .positive are None)")
        labels, global_labels = local, torch.arange(n_global, device=device)
    pool, pool_labels = torch.cat(pools), global_labels.repeat(len(views))
    if batch.negatives is not None:
        flat = transform(batch.negatives.reshape(-1, batch.negatives.shape[-1]))
        hard = negatives.gather(flat)[0]
        lowest = int(torch.minimum(pool_labels.min(), labels.min()).item()) if pool_labels.numel() else 0
        unique = min(lowest, 0) - 1 - torch.arange(hard.shape[0], device=device)  # labels no anchor has
        pool, pool_labels = torch.cat([pool, hard]), torch.cat([pool_labels, unique.to(pool_labels.dtype)])
    if objective is not None:  # the pool less the anchor itself, of which the anchor's other views are positives
        objective.require_negatives(pool.shape[0] - 1, len(views) - 1)
    self_index = torch.cat([local + v * n_global for v in range(len(views))])
    return LabelledPool(torch.cat(views), labels.repeat(len(views)), pool, pool_labels, self_index)


def global_batch_mean(total: torch.Tensor, count: torch.Tensor | int) -> torch.Tensor:
    """``total`` (a local sum of per-term losses) divided so that the MEAN over processes of the returned local
    losses is the sum over all processes divided by the total count: the mean over the global batch, even when
    processes hold different numbers of terms (valid triplets, mined pairs, anchors with a positive). DDP averages
    gradients over processes, so the gradient is the global mean's too. Single process: ``total / count``.
    A count of 0 gives 0 (still attached to the graph)."""
    count = torch.as_tensor(count, dtype=torch.float32, device=total.device).detach().clone()
    if is_distributed() and world_size() > 1:
        dist.all_reduce(count)
        return total * world_size() / count.clamp_min(1.0)
    return total / count.clamp_min(1.0)


def mined_pairs(miner: "Miner | None", closeness: torch.Tensor, positive: torch.Tensor,
                negative: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) (A, M) masks of the pairs a pair loss sees: all of them without a miner, else the
    miner's pairs (a triplet miner's triplets give their pairs). ``closeness``: (A, M), larger = closer."""
    if miner is None:
        return positive, negative
    pos, neg = miner(closeness.detach(), positive, negative).pairs()
    return pos & positive, neg & negative


def mined_triplets(miner: "Miner", closeness: torch.Tensor, positive: torch.Tensor,
                   negative: torch.Tensor) -> torch.Tensor:
    """(T, 3) long (anchor, positive, negative) triplets a triplet loss sees (a pair miner's pairs give every
    positive x negative of an anchor)."""
    return miner(closeness.detach(), positive, negative).triplet_index()
