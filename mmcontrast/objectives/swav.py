"""SwAV: swapped prediction of online cluster assignments (Caron et al. 2020, "Unsupervised Learning of Visual
Features by Contrasting Cluster Assignments")."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..batch import EmbeddingBatch
from ..citations import SWAV
from ..distributed import is_distributed, world_size
from ..negatives import Negatives
from .base import Objective
from .precision import float32_matmul


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Equipartitioned soft codes from prototype scores with Sinkhorn-Knopp, over the GLOBAL batch.

    Args:
        scores: (B, K) local rows of similarities between embeddings and prototypes.
        epsilon: entropy regularisation (codes ``exp(scores / epsilon)`` before normalisation).
        iterations: Sinkhorn iterations (paper: 3).

    Returns:
        (B, K) codes: every row sums to 1 (a distribution over prototypes) and, over the global batch of
        B_global rows, every prototype's column sums to B_global / K (equal partition). Sums over rows are
        all-reduced across processes, so N processes give the codes of one process over the concatenated batch.
    """
    logits = scores.float() / epsilon
    top = logits.max().clone()
    if is_distributed():
        dist.all_reduce(top, op=dist.ReduceOp.MAX)
    q = torch.exp(logits - top).T  # (K, B)
    k = q.shape[0]
    total_rows = torch.tensor(float(q.shape[1]), device=q.device)
    total = q.sum()
    if is_distributed():
        dist.all_reduce(total_rows)
        dist.all_reduce(total)
    q /= total
    for _ in range(iterations):
        row_sums = q.sum(dim=1, keepdim=True)
        if is_distributed():
            dist.all_reduce(row_sums)
        q /= row_sums * k
        q /= q.sum(dim=0, keepdim=True) * total_rows
    return (q * total_rows).T


class SwAV(Objective):
    """Swapped prediction: the code of each global view (Sinkhorn over the global batch, no gradient) is
    predicted from every other view (global and multi-crop local) by a softmax over prototype scores.

    Views: ``query`` and ``positive`` are the 2 global crops (B, D); ``crops`` (B, V, D) the local crops.
    loss = mean over global views i and other views v of ``-sum_k q_i[k] log softmax(z_v . c / tau)[k]``.

    Args:
        embedding_dim: injected (the projection's output size).
        num_prototypes: K (paper: 3000 for ImageNet; use ~10x the number of classes on small data).
        temperature: tau of the prediction softmax (0.1).
        epsilon, sinkhorn_iterations: Sinkhorn settings (0.05, 3).
        freeze_prototypes_steps: prototypes get no gradient for this many optimizer steps (paper: first epoch).
    """

    card_summary = "SwAV (Caron et al., 2020): swapped prediction of Sinkhorn cluster assignments over prototypes"
    citation = SWAV
    tags = ("swav",)

    def __init__(
        self,
        embedding_dim: int = 128,
        num_prototypes: int = 300,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        freeze_prototypes_steps: int = 0,
        negatives: Negatives | None = None,
    ) -> None:
        super().__init__(negatives)
        self.prototypes = nn.Linear(embedding_dim, num_prototypes, bias=False)
        self.temperature = temperature
        self.epsilon = epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.freeze_prototypes_steps = freeze_prototypes_steps
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("SwAV needs two global views (EmbeddingBatch.positive is None)")
        views = [batch.query, batch.positive]
        if batch.crops is not None:
            views.extend(batch.crops.unbind(dim=1))
        weight = F.normalize(self.prototypes.weight, dim=1)  # (K, D), unit prototypes as in the paper
        if self.training and int(self.steps) < self.freeze_prototypes_steps:
            weight = weight.detach()
        scores = [float32_matmul(F.normalize(v.float(), dim=1), weight.T) for v in views]  # each (B, K) float32
        loss = scores[0].new_zeros(())
        for i in (0, 1):
            codes = sinkhorn(scores[i].detach(), self.epsilon, self.sinkhorn_iterations)
            for v, view_scores in enumerate(scores):
                if v != i:
                    loss = loss - (codes * F.log_softmax(view_scores / self.temperature, dim=1)).sum(1).mean()
        if self.training:
            self.steps += 1
        return loss / (2 * (len(views) - 1))
