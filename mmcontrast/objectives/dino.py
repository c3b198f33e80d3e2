"""DINO: self-distillation with no labels (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision
Transformers", Algorithm 1).

The student (online encoder + ``dino`` head) predicts the teacher's (momentum encoder + head, no gradient)
distribution over K prototype outputs. Collapse is avoided by two opposite operations on the teacher:
centering (subtracting ``c``, an EMA of the teacher outputs over the GLOBAL batch, pushes toward uniform) and
sharpening (a low teacher temperature pushes toward one-hot). The teacher sees the global views only; the
student also sees the multi-crop local views.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..citations import DINO
from ..distributed import is_distributed
from ..errors import ComponentRuleError
from ..negatives import Negatives
from .base import Objective


def dino_loss(student: torch.Tensor, teacher: torch.Tensor, center: torch.Tensor, student_temperature: float,
              teacher_temperature: float) -> torch.Tensor:
    """Cross-entropy ``H(P_t, P_s)`` averaged over rows, for one (teacher view, student view) pair.

    Args:
        student: (B, K) student scores of one view.
        teacher: (B, K) teacher scores of another view of the same images (no gradient is taken through it).
        center: (K,) or (1, K) the center c.
        student_temperature, teacher_temperature: tau_s (0.1) and tau_t (0.04-0.07).

    Returns:
        ``mean_i -sum_k softmax((t_i - c) / tau_t)[k] * log_softmax(s_i / tau_s)[k]`` (scalar, float32).
    """
    targets = F.softmax((teacher.detach().float() - center.float()) / teacher_temperature, dim=-1)
    return -(targets * F.log_softmax(student.float() / student_temperature, dim=-1)).sum(dim=-1).mean()


@torch.no_grad()
def mean_over_processes(rows: torch.Tensor) -> torch.Tensor:
    """Mean over the rows of ALL processes: (N_local, K) -> (K,) (sums and counts are all-reduced)."""
    total = rows.detach().float().sum(dim=0)
    count = torch.tensor(float(rows.shape[0]), device=rows.device)
    if is_distributed():
        dist.all_reduce(total)
        dist.all_reduce(count)
    return total / count


class DINO(Objective):
    """DINO's loss over one loss direction: the teacher scores of one global view (``positive``, (B, K): the
    momentum target's keys) against the student scores of the other global view (``query``, (B, K)) and of every
    local crop (``crops``, (B, V, K)). With ``symmetric: mean`` the Learner adds the swapped direction and
    averages, which is the paper's mean over all (teacher global view, other student view) pairs.

    The center (K,) is a buffer (checkpointed, restored on resume), updated once per training loss computation
    after both directions: ``c <- m c + (1 - m) mean(teacher outputs of every global view over the global
    batch)``.

    Args:
        embedding_dim: injected: K, the head's output size (``head: {name: dino, num_prototypes: K}``).
        student_temperature: tau_s (paper: 0.1).
        teacher_temperature: tau_t after the warm-up (paper: 0.04-0.07).
        warmup_teacher_temperature: tau_t at step 0, raised linearly to ``teacher_temperature`` over
            ``warmup_teacher_temperature_steps`` optimizer steps (paper: 0.04 over 30 epochs); None: no warm-up.
        center_momentum: m (paper: 0.9).
    """

    card_summary = (
        "DINO (Caron et al., 2021): self-distillation, the student's softmax over prototypes matches the centred,"
        " sharpened teacher's on the other views"
    )
    citation = DINO
    tags = ("dino",)

    objective_name = "dino"

    @classmethod
    def check_config(cls, config: dict[str, Any], view_gives: frozenset[str]) -> None:
        """DINO distils a momentum teacher (``target: {name: momentum}``) and compares the student's and the
        teacher's heads directly (no ``predictor``)."""
        target = config.get("target")
        if target is None or target.get("name") != "momentum":
            raise ComponentRuleError("objective", "objective 'dino' distils a momentum teacher: set target: {name: "
                                     f"momentum}} (got target {target!r})")
        if config.get("predictor") is not None:
            raise ComponentRuleError("predictor", "objective 'dino' compares the student's and the teacher's heads "
                                     "directly: unset predictor")

    def __init__(
        self,
        embedding_dim: int = 4096,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.04,
        warmup_teacher_temperature: float | None = None,
        warmup_teacher_temperature_steps: int = 0,
        center_momentum: float = 0.9,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        for name, value in (("student_temperature", student_temperature),
                            ("teacher_temperature", teacher_temperature),
                            ("warmup_teacher_temperature", warmup_teacher_temperature)):
            if value is not None and not value > 0:
                raise ValueError(f"objective.{name} must be > 0, got {value}")
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"objective.center_momentum must be in [0, 1], got {center_momentum}")
        if warmup_teacher_temperature_steps < 0:
            raise ValueError(f"objective.warmup_teacher_temperature_steps must be >= 0, got "
                             f"{warmup_teacher_temperature_steps}")
        self.student_temperature = student_temperature
        self.final_teacher_temperature = teacher_temperature
        self.warmup_teacher_temperature = warmup_teacher_temperature
        self.warmup_steps = warmup_teacher_temperature_steps
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(embedding_dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # optimizer steps done

    def teacher_temperature(self, step: int | None = None) -> float:
        """tau_t at optimizer step ``step`` (default: the current one): linear warm-up, then constant."""
        step = int(self.steps) if step is None else step
        if self.warmup_teacher_temperature is None or step >= self.warmup_steps:
            return self.final_teacher_temperature
        start, end = self.warmup_teacher_temperature, self.final_teacher_temperature
        return start + (end - start) * step / self.warmup_steps

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("DINO needs two global views: the teacher's keys of the other view "
                             "(EmbeddingBatch.positive is None)")
        if batch.query.shape[1] != self.center.shape[0]:
            raise ValueError(f"DINO: the head gives {batch.query.shape[1]} outputs but the center has "
                             f"{self.center.shape[0]}")
        students = [batch.query] + (list(batch.crops.unbind(dim=1)) if batch.crops is not None else [])
        tau_t = self.teacher_temperature()
        losses = [dino_loss(s, batch.positive, self.center, self.student_temperature, tau_t) for s in students]
        return torch.stack(losses).mean()

    @torch.no_grad()
    def after_loss(self, batches: Sequence[EmbeddingBatch]) -> None:
        """Center update from the teacher outputs of every direction's global view (collective: every process
        calls it once per training loss computation)."""
        teacher = torch.cat([b.positive for b in batches if b.positive is not None])
        m = self.center_momentum
        self.center.mul_(m).add_(mean_over_processes(teacher).to(self.center.dtype), alpha=1.0 - m)

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        self.steps.fill_(step)

    def keys(self, batch: EmbeddingBatch) -> torch.Tensor | None:
        return None  # nothing for a queue or memory bank: DINO takes no negatives
