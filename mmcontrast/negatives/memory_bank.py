"""Memory bank of every training sample (Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric
Instance Discrimination"; Misra & van der Maaten 2020, PIRL)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..citations import INSTANCE_DISCRIMINATION
from ..distributed import gather_counts, gather_no_grad, rank
from .base import Negatives


class MemoryBankNegatives(Negatives):
    """An index-addressed memory ``m`` (N, D) holding an exponential moving average of each training sample's
    embedding.

    For anchors with dataset rows ``indices``, the candidates are ``[m[global batch indices] (B_global, D);
    m[shared random sample] (num_negatives, D)]``: anchor i's positive is its own memory entry ``m[index_i]``.
    After the loss, ``m[index] <- normalize(momentum * m[index] + (1 - momentum) * key)`` for the global batch
    (the first loss direction's keys, e.g. PIRL's image embedding f(I)), so the memory stays identical on every
    process. The random sample is drawn from a generator seeded by ``(seed, step)``: the same on every process
    and after a resume. The memory and the step counter are persistent buffers (checkpointed).

    ``warm_start`` (off by default; not in Wu et al.) fills every entry that was never written with the current
    batch's positives (normalised, detached) BEFORE the loss, so that on an entry's first visit its positive is the
    other view's embedding instead of the random initialisation. Wu et al. train for hundreds of epochs, where the
    random first epoch is forgotten; over a budget of one or two epochs it is most of the training, and the loss
    then pulls every image towards a random direction. A ``written`` (N,) bool buffer (checkpointed) records which
    entries hold an embedding; the update after the loss mixes as usual (a just-filled entry mixed with the same
    key stays that key).

    Args:
        num_samples: N, injected from the training set's length.
        embedding_dim: D, injected from the model.
        num_negatives: memory entries drawn per step (Wu et al.: 4096); ``None`` uses the whole memory.
        momentum: EMA weight of the old entry (Wu et al. 0.5).
        seed: initialisation and sampling seed.
        warm_start: fill never-written entries from the batch's keys before the loss (see above).
    """

    card_summary = "an EMA memory of every training sample's embedding (Wu et al., 2018)"
    citation = INSTANCE_DISCRIMINATION

    def __init__(
        self,
        num_samples: int,
        embedding_dim: int = 128,
        num_negatives: int | None = 4096,
        momentum: float = 0.5,
        seed: int = 0,
        warm_start: bool = False,
    ) -> None:
        super().__init__()
        if num_samples < 1:
            raise ValueError(f"memory bank needs the training set size, got num_samples={num_samples}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"negatives.momentum must be in [0, 1), got {momentum}")
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("memory", F.normalize(torch.randn(num_samples, embedding_dim, generator=generator), dim=1))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.num_negatives = num_negatives
        self.momentum = momentum
        self.seed = seed
        if not isinstance(warm_start, bool):
            raise ValueError(f"negatives.warm_start must be true or false, got {warm_start!r}")
        self.warm_start = warm_start
        if self.warm_start:  # only then: checkpoints of a bank without it keep loading
            self.register_buffer("written", torch.zeros(num_samples, dtype=torch.bool))

    def candidates(
        self,
        positives: torch.Tensor,
        hard_negatives: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if indices is None:
            raise ValueError("memory bank negatives need the dataset row of every sample (ViewBatch.indices); "
                             "the view did not provide an 'index' column")
        if hard_negatives is not None:
            raise ValueError("memory bank negatives do not take hard negatives")
        all_indices = gather_no_grad(indices.to(self.memory.device))
        if self.warm_start:
            self._fill_unwritten(positives, all_indices)
        local = self._offset(indices)
        parts = [self.memory[all_indices]]
        if self.num_negatives is None:
            parts.append(self.memory)
        else:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(self.steps))
            sample = torch.randint(0, self.memory.shape[0], (self.num_negatives,), generator=generator)
            parts.append(self.memory[sample.to(self.memory.device)])
        pool = torch.cat(parts, dim=0).detach().to(dtype=positives.dtype)
        index = local + torch.arange(positives.shape[0], device=positives.device)
        return pool, index

    @torch.no_grad()
    def _fill_unwritten(self, positives: torch.Tensor, all_indices: torch.Tensor) -> None:
        """Write the global batch's positives (B_global, D), normalised, into the entries not written yet."""
        fresh = ~self.written[all_indices]  # the same on every process, so skipping the gather is collective-safe
        if bool(fresh.any()):
            all_keys = gather_no_grad(F.normalize(positives.detach().float(), dim=1)).to(self.memory.device)
            self.memory[all_indices[fresh]] = all_keys[fresh].to(self.memory.dtype)
            self.written[all_indices[fresh]] = True

    @staticmethod
    def _offset(indices: torch.Tensor) -> int:
        return sum(gather_counts(indices.shape[0], indices.device)[: rank()])

    @torch.no_grad()
    def update(self, keys: Sequence[torch.Tensor], indices: torch.Tensor | None = None) -> None:
        if indices is None or not keys:
            return
        all_keys = gather_no_grad(F.normalize(keys[0].detach().float(), dim=1))
        all_indices = gather_no_grad(indices.to(self.memory.device))
        mixed = self.momentum * self.memory[all_indices] + (1.0 - self.momentum) * all_keys.to(self.memory.dtype)
        self.memory[all_indices] = F.normalize(mixed, dim=1)
        self.steps += 1
