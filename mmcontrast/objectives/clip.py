"""CLIP's loss (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"):
symmetric InfoNCE between image embeddings (queries) and caption embeddings (positives), scaled by the logit
scale the dual encoder learns. Across processes each process keeps the loss of its own rows and contrasts them
with the candidates of every process, gathered WITH gradient (``in_batch`` negatives with ``gather: true``)."""

from __future__ import annotations

import torch

from ..batch import EmbeddingBatch
from ..citations import CLIP
from ..negatives import Negatives
from ..temperature import Temperature
from .distances import Distance
from .info_nce import InfoNCE


def model_or_fixed_scale(batch: EmbeddingBatch, fixed: Temperature | None, objective: str) -> torch.Tensor:
    """The logit scale of ``batch`` (the model's, learned) or the objective's fixed one; exactly one must exist,
    so that a configured temperature is never silently ignored."""
    if batch.logit_scale is not None:
        if fixed is not None:
            raise ValueError(f"objective '{objective}': the model learns the logit scale (encoder 'dual_encoder', "
                             f"encoder.temperature); leave objective.temperature unset")
        return batch.logit_scale
    if fixed is None:
        raise ValueError(f"objective '{objective}' needs a logit scale: use encoder 'dual_encoder' (which learns "
                         f"one) or set objective.temperature")
    return fixed.scale()


class CLIPLoss(InfoNCE):
    """Symmetric InfoNCE over ``EmbeddingBatch(query=images (B, D), positive=captions (B, D), logit_scale)``:
    (CE(s * I T^T, diag) + CE(s * T I^T, diag)) / 2 over L2-normalised rows, with s the model's logit scale.
    Caption hard negatives (``negatives`` (B, K, D)) join the image -> text candidates.

    Args:
        temperature: a fixed tau, only for models without a logit scale of their own (default: the model's).
        negatives: candidate source; in-batch, gathered across processes with gradient, by default.
        similarity: the kind compared after L2 normalisation (``dot``: cosine, CLIP's; ``euclidean``,
            ``squared_euclidean``, ``manhattan`` are negated distances: ``distances.DISTANCES``).
    """

    card_summary = (
        "CLIP loss (Radford et al., 2021): symmetric InfoNCE between images and captions, scaled by the learned "
        "logit scale"
    )
    citation = CLIP
    tags = ("clip",)

    objective_name = "clip"
    uses_logit_scale = True  # reads EmbeddingBatch.logit_scale

    def __init__(self, temperature: float | None = None, negatives: Negatives | None = None,
                 similarity: Distance = "dot") -> None:
        super().__init__(temperature=temperature or 1.0, symmetric=True, normalize=True, negatives=negatives,
                         similarity=similarity)
        self.fixed = self.temperature if temperature is not None else None

    def logit_scale(self, batch: EmbeddingBatch) -> torch.Tensor:
        return model_or_fixed_scale(batch, self.fixed, "clip")
