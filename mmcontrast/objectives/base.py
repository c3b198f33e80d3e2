"""Shared pieces of the objective layer: the ``Objective`` interface and stable logits."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..batch import EmbeddingBatch
from ..errors import ConfigError
from ..negatives import InBatchNegatives, Negatives
from .distances import DistanceKind, check_kind
from .precision import float32_matmul, float32_objective


class Objective(nn.Module):
    """A loss over role-keyed embeddings. Subclasses implement ``forward(batch) -> scalar loss``.

    Objectives take embeddings, never models or raw inputs, and get their candidates from a composed
    ``Negatives`` object (in-batch by default).
    """

    #: registry name, used in error messages
    objective_name: ClassVar[str] = "objective"
    #: constructor keyword naming the similarity/distance kind it compares embeddings with ("similarity" for
    #: similarity-based losses, "distance" for margin losses), or None when it takes none
    distance_key: ClassVar[str | None] = None
    #: the kinds it accepts (None: every registered kind) and why it refuses the others
    accepted_distances: ClassVar[tuple[str, ...] | None] = None
    distance_requirement: ClassVar[str] = ""

    def __init__(self, negatives: Negatives | None = None) -> None:
        super().__init__()
        self.negatives = negatives if negatives is not None else InBatchNegatives(gather=True)

    @classmethod
    def check_params(cls, params: dict[str, Any], name: str | None = None) -> None:
        """Checks of a config's parameters beyond the constructor's signature (run at config time): the
        similarity/distance kind must be one this objective can use. ValueError naming both (``name``: the
        objective's registry name)."""
        signature = inspect.signature(cls).parameters
        if cls.distance_key is None or cls.distance_key not in signature:
            return
        check_kind(name or cls.objective_name, cls.distance_key,
                   params.get(cls.distance_key, signature[cls.distance_key].default),
                   cls.accepted_distances, cls.distance_requirement)

    def resolve_kind(self, value: str, params: dict[str, Any] | None = None) -> DistanceKind:
        """The constructor's similarity/distance kind, checked as at config time."""
        type(self).check_params({**(params or {}), self.distance_key: value})
        return check_kind(self.objective_name, str(self.distance_key), value, None)

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def require_negatives(self, candidates: int, positives: int = 1) -> None:
        """ConfigError when each query's candidate pool (``candidates`` rows, after excluding the query itself)
        holds only its ``positives``: in-batch negatives with one row per global batch and no hard, queued or
        memory-bank negatives, whose loss is exactly 0 and trains nothing. Shape logic only (no host sync).
        Once a batch had negatives, a later one-row batch (the short last batch of an epoch with
        ``data.drop_last: false``) is let through: the batch size is fine, only that batch contributes nothing."""
        if candidates - positives >= 1:
            self._had_negatives = True
        elif not getattr(self, "_had_negatives", False):
            raise no_negative_error(self.objective_name)

    def keys(self, batch: EmbeddingBatch) -> torch.Tensor | None:
        """The positives as this objective compares them (what a queue or memory bank must store): (B, D)."""
        return batch.positive

    def after_step(self, batches: Sequence[EmbeddingBatch], indices: torch.Tensor | None = None) -> None:
        """Called by the learner once per TRAINING loss computation with every loss direction's batch, after the
        losses (all processes call it: it may be collective): the negatives see this objective's keys of each
        direction (a queue enqueues them, a memory bank writes them at ``indices`` (B,)), then ``after_loss``.
        The keys are computed in float32 with autocast off, as the loss was."""
        if not batches:
            return
        with float32_objective(batches[0].query.device):
            keys = [self.keys(b) for b in batches]
        self.negatives.update([k for k in keys if k is not None], indices)
        self.after_loss(batches)

    def check_global_batch(self, global_batch: int) -> None:
        """ConfigError before training when the negatives cannot hold ``global_batch`` keys (a MoCo queue)."""
        self.negatives.check_global_batch(global_batch)

    def after_loss(self, batches: Sequence[EmbeddingBatch]) -> None:
        """Called once per training loss computation with every loss direction's batch (all processes call it:
        it may be collective), after the losses: state that follows the batch (DINO's center) updates here."""

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Called after optimizer step ``step`` (from 1) of ``total_steps``: schedules (DINO's teacher
        temperature) follow it."""


def no_negative_error(objective: str) -> ConfigError:
    """The error of a contrastive objective whose queries have no negative at all (see ``require_negatives``)."""
    return ConfigError(f"objective '{objective}': each query has no negative (in-batch negatives with 1 row per "
                       "batch across all processes): raise train.batch_size above 1 or add hard negatives")


def similarity_logits(query: torch.Tensor, candidates: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Scaled similarities in float32: (B, D) x (M, D) -> (B, M).

    Both operands are promoted to float32 BEFORE the product and the scale, with autocast off (``precision.py``):
    a bfloat16 product scaled by 1/tau = 20 would carry errors of ~0.1 per logit, and an unnormalised float16 one
    overflows at 65504.
    """
    return float32_matmul(query, candidates.transpose(0, 1)) * scale


def masked_fill_min(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Exclude entries from a softmax with the dtype's most negative finite value (no -inf, so no NaN)."""
    return logits.masked_fill(mask, torch.finfo(logits.dtype).min)


def l2_normalize(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else F.normalize(x, dim=-1)


def normalized_roles(batch: EmbeddingBatch, normalize: bool,
                     needs: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(query (B, D), positive (B, D), hard negatives (B, K, D) or None) of ``batch``, L2-normalised when
    ``normalize``: the preamble of the objectives that compare each query with its positive among candidates.
    A batch without a positive is a ValueError ``"<needs> (EmbeddingBatch.positive is None)"``."""
    if batch.positive is None:
        raise ValueError(f"{needs} (EmbeddingBatch.positive is None)")
    if not normalize:
        return batch.query, batch.positive, batch.negatives
    return F.normalize(batch.query, dim=-1), F.normalize(batch.positive, dim=-1), l2_normalize(batch.negatives)
