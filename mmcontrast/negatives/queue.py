"""MoCo's queue of momentum keys (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
Learning"; Chen et al. 2020, MoCo v2)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..citations import MOCO
from ..distributed import gather_no_grad
from ..errors import ComponentRuleError, ConfigError
from .base import Negatives


class QueueNegatives(Negatives):
    """A FIFO queue of the keys of past batches, gathered from all processes.

    Candidates for the local anchors are ``[keys of the global batch (B_global, D); queue (size, D)]``: anchor i's
    positive is its own key (column ``rank offset + i``), every other key and every queued key is a negative.
    After the loss the global batch's keys are enqueued (oldest entries are overwritten; any number of keys,
    a short last batch included). The queue and its pointer are persistent buffers, so checkpoints carry them
    and a resumed run continues with the same negatives.

    Keys must come without gradient (a momentum encoder, see ``target: {name: momentum}``); the queue is
    identical on every process because every process enqueues the same gathered keys.

    Args:
        size: K, the number of queued keys (MoCo: 65536; it must not be smaller than a global batch to be useful).
        embedding_dim: D, injected from the model.
        seed: initialises the queue with random unit vectors (identically on every process).
    """

    card_summary = "a FIFO queue of momentum-encoder keys from past batches (MoCo, He et al., 2020)"
    citation = MOCO
    tags = ("moco",)

    @classmethod
    def check_config(cls, config: dict[str, Any], view_gives: frozenset[str]) -> None:
        """A queue set to hold fewer keys than one global batch (``train.batch_size``) is an error."""
        size, batch_size = config["negatives"].get("size"), config["train"]["batch_size"]
        if isinstance(size, int) and size < batch_size:
            raise ComponentRuleError("negatives.size", f"negatives.size {size} is smaller than train.batch_size "
                                     f"{batch_size}: a queue must hold at least one global batch of keys")

    def __init__(self, size: int = 4096, embedding_dim: int = 128, seed: int = 0) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"negatives.size must be >= 1, got {size}")
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("queue", F.normalize(torch.randn(size, embedding_dim, generator=generator), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.queue.shape[0]

    def check_global_batch(self, global_batch: int) -> None:
        """A queue smaller than the global batch would overwrite keys before they are used: fail before training."""
        if self.size < global_batch:
            raise ConfigError(f"negatives.size {self.size} is smaller than the global batch {global_batch} "
                              "(train.batch_size x processes): a queue must hold at least one global batch of keys")

    def stored_keys(self, dtype: torch.dtype) -> torch.Tensor:
        """The queue (size, D), detached and copied (a later ``enqueue`` leaves it unchanged), in ``dtype``."""
        return self.queue.detach().clone().to(dtype=dtype)

    @torch.no_grad()
    def update(self, keys: Sequence[torch.Tensor], indices: torch.Tensor | None = None) -> None:
        for local_keys in keys:
            self.enqueue(gather_no_grad(local_keys.detach()))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys (n, D) at the pointer, wrapping around; with n > size only the last ``size`` keys stay."""
        keys = keys[-self.size :].to(self.queue.dtype)
        n = keys.shape[0]
        rows = (self.pointer + torch.arange(n, device=self.queue.device)) % self.size
        self.queue[rows] = keys
        self.pointer.copy_((self.pointer + n) % self.size)
