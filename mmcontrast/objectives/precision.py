"""Numerically safe objectives under mixed precision (bf16 / fp16 autocast through Accelerate).

An encoder may run in bfloat16 or float16; the loss never does. Contrastive logits divide similarities by a
small temperature (SimCSE: 0.05, a x20 amplification), so a bfloat16 product of unit vectors (8 bits of mantissa,
relative error ~4e-3) would put errors of ~0.1 into every logit, and an unnormalised float16 product overflows at
65504. Objectives therefore see float32 embeddings and run with autocast OFF (under autocast a matmul of float32
operands would be cast down again): ``Learner`` calls every objective inside ``float32_objective``, and the
functional losses (``similarity_logits``, ``sigmoid_loss``, the distance matrices) use ``float32_matmul`` so that
they are safe when called alone under autocast too.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import torch

from ..batch import EmbeddingBatch


@contextlib.contextmanager
def autocast_off(device: torch.device | str) -> Iterator[None]:
    """Disable autocast on ``device``'s type (and on CPU, where tensors of any run may live) in this block."""
    kind = torch.device(device).type
    with torch.autocast(device_type=kind, enabled=False):
        if kind != "cpu":
            with torch.autocast(device_type="cpu", enabled=False):
                yield
        else:
            yield


def float32_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` with both operands promoted to float32 and autocast off: (B, D) x (D, M) -> (B, M) float32."""
    with autocast_off(a.device):
        return a.float() @ b.float()


def _float32(x: torch.Tensor | None) -> torch.Tensor | None:
    return x.float() if x is not None and x.is_floating_point() else x


def float32_batch(batch: EmbeddingBatch) -> EmbeddingBatch:
    """The same ``EmbeddingBatch`` with its floating tensors (embeddings, logit scale) in float32 (a no-op copy of
    float32 inputs; gradients flow back to the low-precision embeddings through the casts)."""
    return dataclasses.replace(batch, query=batch.query.float(), positive=_float32(batch.positive),
                               negatives=_float32(batch.negatives), crops=_float32(batch.crops),
                               logit_scale=_float32(batch.logit_scale))


@contextlib.contextmanager
def float32_objective(device: torch.device | str) -> Iterator[None]:
    """The region an objective runs in: autocast off (its inputs are cast with ``float32_batch``)."""
    with autocast_off(device):
        yield
