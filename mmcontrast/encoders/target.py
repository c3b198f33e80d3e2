"""Target branches: where the embeddings an online prediction is compared with come from.

- ``stop_gradient``: the online projection itself without gradient (SimSiam, Chen & He 2021).
- ``momentum``: an exponential moving average of the online encoder and head, run without gradient
  (MoCo, He et al. 2020; BYOL, Grill et al. 2020), with the momentum raised to ``final_momentum`` on a cosine
  schedule (BYOL: ``1 - (1 - m0) (cos(pi t / T) + 1) / 2``).

Without a target (SimCLR, SimCSE, CLIP) both views go through the online model with gradient.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..citations import MOCO, SIMSIAM
from .model import ContrastiveModel


class Target(nn.Module):
    """``keys(inputs, online_embeddings) -> (N, D)`` without gradient; ``update`` after each optimizer step."""

    def keys(self, inputs: dict[str, torch.Tensor], online_embeddings: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - interface

    def update(self, online: ContrastiveModel, step: int, total_steps: int) -> None:
        """Called once after every optimizer step (``step`` counts from 1)."""


class StopGradientTarget(Target):
    """SimSiam's stop-gradient: the keys are the online embeddings, detached."""

    card_summary = "the targets are the online embeddings with the gradient stopped (SimSiam, Chen & He, 2021)"
    citation = SIMSIAM

    def __init__(self) -> None:
        super().__init__()

    def keys(self, inputs: dict[str, torch.Tensor], online_embeddings: torch.Tensor) -> torch.Tensor:
        return online_embeddings.detach()


class MomentumTarget(Target):
    """A momentum (EMA) copy of the online encoder + head that embeds the keys without gradient.

    Args:
        online: injected: the online ``ContrastiveModel`` (copied at construction, so both start equal).
        momentum: m0, the EMA weight of the target at step 0 (MoCo 0.999, BYOL 0.996, MoCo v3 0.99).
        final_momentum: the momentum at the last step (BYOL, MoCo v3: 1.0); equal to ``momentum`` for a constant.
        schedule: ``cosine`` (from ``momentum`` to ``final_momentum``) or ``constant``.
        shuffle_groups: embed the keys in this many random groups, each with its own BatchNorm statistics
            (MoCo's shuffling BN, He et al. 2020, Sec. 3.3, emulated in one process): without it, keys of the
            current batch share the queries' batch statistics and a queue of older keys lets the model find
            its positive by that signature instead of by content. 1 turns it off.

    The target keeps its own BatchNorm statistics (it runs in training mode, as in BYOL and MoCo); its
    parameters never require gradient, so DDP and the optimizer ignore them, but they are saved in checkpoints.
    """

    card_summary = (
        "a momentum (EMA) copy of the encoder and head embeds the targets without gradient (MoCo, He et al., "
        "2020)"
    )
    citation = MOCO

    def __init__(
        self,
        online: ContrastiveModel,
        momentum: float = 0.99,
        final_momentum: float = 1.0,
        schedule: str = "cosine",
        shuffle_groups: int = 1,
    ) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0 or not 0.0 <= final_momentum <= 1.0:
            raise ValueError(f"target momentum must be in [0, 1], got {momentum} -> {final_momentum}")
        if schedule not in ("cosine", "constant"):
            raise ValueError(f"target.schedule must be 'cosine' or 'constant', got '{schedule}'")
        self.model = copy.deepcopy(online)
        for param in self.model.parameters():
            param.requires_grad_(False)
        if shuffle_groups < 1:
            raise ValueError(f"target.shuffle_groups must be >= 1, got {shuffle_groups}")
        self.momentum = momentum
        self.final_momentum = final_momentum if schedule == "cosine" else momentum
        self.shuffle_groups = shuffle_groups

    def momentum_at(self, step: int, total_steps: int) -> float:
        """EMA weight after optimizer step ``step`` of ``total_steps``."""
        progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
        return self.final_momentum - (self.final_momentum - self.momentum) * (math.cos(math.pi * progress) + 1) / 2

    @torch.no_grad()
    def keys(self, inputs: dict[str, torch.Tensor], online_embeddings: torch.Tensor) -> torch.Tensor:
        self.model.train(self.training)
        rows = online_embeddings.shape[0]
        if self.shuffle_groups == 1 or not self.training or rows < 2 * self.shuffle_groups:
            return self.model(inputs)
        if any(isinstance(v, dict) for v in inputs.values()):
            raise ValueError("target.shuffle_groups does not support two-tower inputs")
        order = torch.randperm(rows, device=online_embeddings.device)  # global RNG: checkpointed, resumable
        keys = torch.empty_like(online_embeddings)
        for group in order.chunk(self.shuffle_groups):
            keys[group] = self.model({name: value[group] for name, value in inputs.items()})
        return keys

    @torch.no_grad()
    def update(self, online: ContrastiveModel, step: int, total_steps: int) -> None:
        m = self.momentum_at(step, total_steps)
        for target, source in zip(self.model.parameters(), online.parameters()):
            if source.requires_grad:
                target.mul_(m).add_(source.detach(), alpha=1.0 - m)
            else:  # a frozen online parameter (a ViT's patch projection) stays bit-identical in the target too
                target.copy_(source.detach())
