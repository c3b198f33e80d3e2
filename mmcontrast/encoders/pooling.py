"""Pooling of token states into one sentence embedding (SimCSE, Gao et al. 2021, section 6.3)."""

from __future__ import annotations

from typing import Literal

import torch

Pooling = Literal["cls", "cls_before_pooler", "mean"]
POOLINGS: tuple[str, ...] = ("cls", "cls_before_pooler", "mean")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean: (B, L, H), (B, L) -> (B, H)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


def pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    pooler_output: torch.Tensor | None,
    pooling: Pooling,
) -> torch.Tensor:
    """(B, L, H) token states -> (B, H).

    - ``cls``: the model's pooled [CLS] output (BERT's dense + tanh pooler) when it has one, else [CLS];
    - ``cls_before_pooler``: the [CLS] hidden state;
    - ``mean``: masked mean of the token states (Sentence-BERT).
    """
    if pooling == "cls":
        return pooler_output if pooler_output is not None else last_hidden_state[:, 0]
    if pooling == "cls_before_pooler":
        return last_hidden_state[:, 0]
    if pooling == "mean":
        return mean_pool(last_hidden_state, attention_mask)
    raise ValueError(f"unknown pooling '{pooling}'; choose one of {', '.join(POOLINGS)}")
