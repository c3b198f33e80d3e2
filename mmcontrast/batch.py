"""``ViewBatch``: raw items by role, as a view gives them; ``EmbeddingBatch``: the seam between encoders and
objectives; ``StepBatch``: one training step's model inputs and the ``RoleLayout`` that splits the model's output
back into roles.

Objectives receive embeddings keyed by ROLE, never by modality, and never see ``input_ids`` or
``pixel_values``. SimCLR's two image views, SimCSE's two dropout passes, CLIP's image/caption and DPR's
question/passage(+hard negatives) all become the same call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import torch


Items = Sequence[str] | torch.Tensor


@dataclass
class ViewBatch:
    """Raw inputs by role, before encoding.

    Attributes:
        query: B items (texts, or images (B, C, H, W)).
        positive: B items or None.
        negatives: K lists of B items (``negatives[k][i]`` is anchor i's k-th hard negative), or None.
        labels: (B,) long or None.
        crops: V further views of the same B samples (``crops[v][i]`` is a view of sample i), possibly at
            another resolution than query/positive: multi-crop's local crops (Caron et al. 2020, SwAV).
            Embedded in one forward per resolution.
        indices: (B,) long dataset row of each sample, for index-addressed negatives (memory bank), or None.
        tiled_query: True when ``query`` holds each sample's jigsaw tiles (B, n, C, th, tw) rather than images:
            every tile is embedded on its own by the shared trunk and the learner's tile head combines a sample's
            n tile features into its query embedding (PIRL's g; view ``jigsaw`` with ``encode_tiles: true``).
        sequence_length: T when ``query`` holds B sequences of T items each, flattened sequence by sequence
            (B * T items; contrastive predictive coding): the model then forms the (prediction, target) pairs
            itself (``sequence_batches``, encoder ``cpc``); None for every pair-wise view.
    """

    query: Items
    positive: Items | None = None
    negatives: list[Items] | None = None
    labels: torch.Tensor | None = None
    crops: list[Items] | None = None
    indices: torch.Tensor | None = None
    sequence_length: int | None = None
    tiled_query: bool = False


# What a view may give besides ``query`` (the ViewBatch fields a config rule can ask for)
LABELS, INDICES, CROPS, TILES = "labels", "indices", "crops", "tiled_query"


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


@dataclass(frozen=True)
class RoleLayout:
    """Row counts of each role inside the single forward: query B, positive B or 0, negatives K x B, the
    number of crops in each multi-crop resolution group, T when the query rows are sequences of T items
    (``batch`` = sequences x T; 0 otherwise), and n when the queries are jigsaw tiles (n per sample, embedded
    from the last crop input and put before the other roles' rows by the learner's tile head; 0 otherwise)."""

    batch: int
    has_positive: bool
    num_negatives: int
    crop_groups: tuple[int, ...] = ()
    sequence_length: int = 0
    query_tiles: int = 0


def inputs_to(inputs: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    """Move (possibly nested: two towers) model inputs to ``device``."""
    return {k: inputs_to(v, device) if isinstance(v, dict) else v.to(device) for k, v in inputs.items()}


@dataclass
class StepBatch:
    """What travels together through one training step (a model's ``prepare_views`` builds it from a view).

    Attributes:
        inputs: the model input of every role's rows in one forward (``{name: tensor (N, ...)}``, or one such
            mapping per tower: ``{"query": ..., "passage": ...}``, ``{"image": ..., "text": ...}``).
        layout: the role layout of the forward's N output rows.
        crop_inputs: one model input per multi-crop resolution group (V_g * B rows each), and jigsaw tiles
            (B * n rows) last; empty otherwise.
        labels: (B,) integer class labels, or None.
        indices: (B,) dataset row of each sample, or None.
    """

    inputs: dict[str, Any]
    layout: RoleLayout
    crop_inputs: list[dict[str, Any]] = field(default_factory=list)
    labels: torch.Tensor | None = None
    indices: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "StepBatch":
        """A copy with every tensor on ``device``."""
        return replace(
            self,
            inputs=inputs_to(self.inputs, device),
            crop_inputs=[inputs_to(c, device) for c in self.crop_inputs],
            labels=self.labels.to(device) if self.labels is not None else None,
            indices=self.indices.to(device) if self.indices is not None else None,
        )
