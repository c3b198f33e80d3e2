"""Stop a run whose loss or gradients became NaN or infinite, before its weights are saved, exported or pushed.

The check costs no host synchronisation per step: each step folds ``isfinite(loss)`` (and, at optimizer steps,
``isfinite`` of the gradients' total norm) into a device flag that also remembers the first bad step. The flag is
read, and reduced across processes so that every process stops together, only where the run is about to log,
save, evaluate or end (``raise_if_bad``). The weights may have gone bad a few steps before that read, but nothing
is written in between, so the last checkpoint on disk is always the last good one.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ..errors import NonFiniteError


class FiniteGuard:
    """Tracks the first step whose loss or gradients were not finite.

    Args:
        device: where the flag lives (the training device).
        check_gradients: also check the gradients at optimizer steps (off under fp16 loss scaling, whose scaler
            skips overflowing steps on purpose).
    """

    def __init__(self, device: torch.device, check_gradients: bool = True) -> None:
        self.check_gradients = check_gradients
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)  # step of the first bad value, or -1
        self.what = torch.zeros((), dtype=torch.long, device=device)  # 1: loss, 2: gradients, 3: weights

    def observe_loss(self, loss: torch.Tensor, step: int) -> None:
        """Fold ``loss`` (any shape) of optimizer step ``step`` (1-based) into the flag."""
        self._fold(~torch.isfinite(loss.detach()).all(), step, 1)

    def observe_gradients(self, parameters: Iterable[torch.nn.Parameter], step: int) -> None:
        """Fold the finiteness of the gradients (one fused norm over all of them) into the flag."""
        if self.check_gradients:
            self._fold_norm([p.grad for p in parameters if p.grad is not None], step, 2)

    def observe_gradient_norm(self, norm: torch.Tensor | float, step: int) -> None:
        """Fold the total gradient norm already computed by gradient clipping into the flag (no second pass)."""
        if self.check_gradients:
            total = torch.as_tensor(norm, dtype=torch.float32).detach().to(self.first_bad.device)
            self._fold(~torch.isfinite(total), step, 2)

    def observe_weights(self, module: torch.nn.Module, step: int) -> None:
        """Fold the finiteness of ``module``'s parameters and floating buffers (BatchNorm running statistics can
        overflow while the loss is still finite) into the flag: called before a checkpoint is written."""
        tensors = [p.detach() for p in module.parameters()]
        self._fold_norm(tensors + [b for b in module.buffers() if b.is_floating_point()], step, 3)

    def _fold_norm(self, tensors: list[torch.Tensor], step: int, what: int) -> None:
        """One fused norm over ``tensors``: not finite iff some element is NaN or infinite."""
        if not tensors:
            return
        total = torch.stack([n.to(self.first_bad.device, torch.float32) for n in torch._foreach_norm(tensors)]).sum()
        self._fold(~torch.isfinite(total), step, what)

    def _fold(self, bad: torch.Tensor, step: int, what: int) -> None:
        new = bad & (self.first_bad < 0)
        self.first_bad = torch.where(new, torch.full_like(self.first_bad, step), self.first_bad)
        self.what = torch.where(new, torch.full_like(self.what, what), self.what)

    def raise_if_bad(self, accelerator: Any, last_good: str) -> None:
        """Collective when several processes run: raise NonFiniteError on every process if any saw a bad value.
        ``last_good`` names the checkpoint that stays (or says there is none)."""
        flag = torch.stack([self.first_bad, self.what])
        if accelerator.num_processes > 1:
            gathered = accelerator.gather(flag.unsqueeze(0))  # (processes, 2)
            bad_rows = gathered[gathered[:, 0] >= 0]
            flag = bad_rows[bad_rows[:, 0].argmin()] if len(bad_rows) else flag
        step, what = (int(v) for v in flag.tolist())
        if step < 0:
            return
        source = {1: "loss", 2: "gradients", 3: "weights"}[what]
        raise NonFiniteError(
            f"the {source} became NaN or infinite at step {step}: training stopped and nothing was saved after it; "
            f"{last_good}. Lower train.lr, set train.max_grad_norm, or check the data and the objective's "
            "temperature"
        )
