"""LARS: layer-wise adaptive rate scaling (You et al. 2017, "Large Batch Training of Convolutional Networks"),
as used by SimCLR, BYOL, Barlow Twins and VICReg for large batches."""

from __future__ import annotations

from typing import Any, Iterable

import torch


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each parameter tensor is scaled by the trust ratio
    ``eta * ||w|| / ||g + weight_decay * w||``.

    Parameter groups with ``lars_exclude: True`` (biases, norm weights, scalars: see ``parameter_groups``) get
    neither weight decay nor adaptation, as in SimCLR and BYOL.

    Args:
        params: parameters or groups.
        lr: base learning rate.
        momentum: heavy-ball momentum.
        weight_decay: decoupled into the gradient before the trust ratio (as the reference implementations).
        trust_coefficient: eta (0.001).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
    ) -> None:
        if lr <= 0:
            raise ValueError(f"LARS lr must be > 0, got {lr}")
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                    "trust_coefficient": trust_coefficient, "lars_exclude": False}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if not group["lars_exclude"]:
                    if group["weight_decay"]:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.norm(p), torch.norm(grad)
                    ratio = torch.where(
                        (w_norm > 0) & (g_norm > 0), group["trust_coefficient"] * w_norm / g_norm, torch.ones_like(w_norm)
                    )
                    grad = grad.mul(ratio)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.clone(grad).detach()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss
