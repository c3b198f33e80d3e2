"""One optimizer (micro-)step of the training loop: forward and backward (plain, or with gradient caching), the
finiteness checks, gradient clipping and the optimizer update, under Accelerate's gradient accumulation."""

from __future__ import annotations

from typing import Any

import torch

from ..batch import StepBatch
from ..config import TrainConfig
from .finite_guard import FiniteGuard
from .grad_cache import grad_cache_step


def train_step(accelerator: Any, learner: torch.nn.Module, optimizer: Any, batch: StepBatch, t: TrainConfig,
               guard: FiniteGuard, step: int) -> torch.Tensor:
    """Forward + backward of ``batch`` (on the device) -> the loss; on the micro-step that completes an
    accumulation (``accelerator.sync_gradients``) the gradients are clipped (``t.max_grad_norm``) and checked,
    and the optimizer steps. ``step`` is the optimizer step this micro-step counts towards (from 1)."""
    with accelerator.accumulate(learner):
        if t.chunk_size:  # gradient caching: forward and backward in chunks, the loss over all rows
            loss, _ = grad_cache_step(learner, batch, t.chunk_size, backward=accelerator.backward,
                                      autocast=accelerator.autocast)
        else:
            loss, _ = learner(batch)
            accelerator.backward(loss)
        guard.observe_loss(loss, step)
        if accelerator.sync_gradients:
            norm = None  # clipping computes the total norm: the guard reads it instead of a second pass
            if t.max_grad_norm is not None:
                norm = accelerator.clip_grad_norm_(learner.parameters(), t.max_grad_norm)
            if norm is None:
                guard.observe_gradients(learner.parameters(), step)
            else:
                guard.observe_gradient_norm(norm, step)
        optimizer.step()
        optimizer.zero_grad()
    return loss
