"""``EmbeddingBatch``: the seam between encoders and objectives.

Objectives receive embeddings keyed by ROLE, never by modality, and never see ``input_ids`` or
``pixel_values``. SimCLR's two image views, SimCSE's two dropout passes, CLIP's image/caption and DPR's
question/passage(+hard negatives) all become the same call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EmbeddingBatch:
    """Embeddings of one local batch, by role.

    Attributes:
        query: (B, D) anchors.
        positive: (B, D) the positive of each anchor (row i pairs with query row i); None for
            label-only objectives (SupCon, batch-hard triplet) that find positives through ``labels``.
        negatives: (B, K, D) hard negatives owned by each anchor (e.g. the contradiction in supervised
            SimCSE), or None.
        labels: (B,) integer class labels, or None.
        crops: (B, V, D) embeddings of V further views of each sample (multi-crop local views), or None.
        indices: (B,) dataset row of each sample (for index-addressed negatives such as a memory bank), or None.
        logit_scale: () the model's learnable logit scale 1/tau (an image-text dual encoder owns it, as CLIP
            does), for objectives that use it (``clip``, ``siglip``), or None.
    """

    query: torch.Tensor
    positive: torch.Tensor | None = None
    negatives: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    crops: torch.Tensor | None = None
    indices: torch.Tensor | None = None
    logit_scale: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.query.dim() != 2:
            raise ValueError(f"query must be (B, D), got shape {tuple(self.query.shape)}")
        batch, dim = self.query.shape
        if self.positive is not None and self.positive.shape != self.query.shape:
            raise ValueError(
                f"positive shape {tuple(self.positive.shape)} does not match query shape {(batch, dim)}: "
                "the towers must embed to the same dimension"
            )
        if self.negatives is not None:
            if self.negatives.dim() != 3 or self.negatives.shape[0] != batch or self.negatives.shape[2] != dim:
                raise ValueError(
                    f"negatives must be (B={batch}, K, D={dim}), got shape {tuple(self.negatives.shape)}"
                )
        if self.crops is not None:
            if self.crops.dim() != 3 or self.crops.shape[0] != batch or self.crops.shape[2] != dim:
                raise ValueError(f"crops must be (B={batch}, V, D={dim}), got shape {tuple(self.crops.shape)}")
        if self.indices is not None and self.indices.shape != (batch,):
            raise ValueError(f"indices must be (B={batch},), got shape {tuple(self.indices.shape)}")
        if self.logit_scale is not None and self.logit_scale.dim() != 0:
            raise ValueError(f"logit_scale must be a scalar tensor, got shape {tuple(self.logit_scale.shape)}")
        if self.labels is not None and self.labels.shape != (batch,):
            raise ValueError(f"labels must be (B={batch},), got shape {tuple(self.labels.shape)}")

    @property
    def batch_size(self) -> int:
        return self.query.shape[0]
