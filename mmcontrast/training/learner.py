"""``Learner``: the one module handed to Accelerate/DDP, so that the encoder, its head, the predictor, the
target branch AND the objective's parameters and buffers (a learnable temperature, prototypes, a queue) are
synchronised and checkpointed together. The objective still only sees embeddings."""

from __future__ import annotations

from typing import Any, ContextManager, Sequence

import torch
from torch import nn

from ..batch import EmbeddingBatch, RoleLayout, StepBatch
from ..config import BN_RUNNING_STATS
from ..encoders import ContrastiveModel, DualEncoderModel, MLPHead, Target, TileHead, TwoTowerModel
from ..objectives import Objective
from ..objectives.precision import float32_batch, float32_objective
from ..views import ViewBatch
from .norm_stats import running_stats_frozen

#: how the swapped loss direction (view 2 against the keys of view 1; the config's top-level ``symmetric``) joins
#: the first: not at all, summed (BYOL, MoCo v3) or averaged (SimSiam)
SWAPPED_DIRECTION = ("none", "sum", "mean")

Inputs = dict[str, Any]


def flatten_views(model: ContrastiveModel | TwoTowerModel | DualEncoderModel, views: ViewBatch) -> StepBatch:
    """Every role's items -> ONE model input and the layout to split the embeddings again (the model's own
    ``prepare_views``: one tower, two towers (queries through one, positives and negatives through the other),
    an image-text dual encoder (image queries, caption positives and negatives)), with the view's labels and
    indices: the step's ``StepBatch``, on the CPU (``.to(device)`` moves it)."""
    return model.prepare_views(views)


def split_embeddings(
    embeddings: torch.Tensor, layout: RoleLayout
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(N_total, D) -> query (B, D), positive (B, D)?, negatives (B, K, D)?."""
    b = layout.batch
    query = embeddings[:b]
    start = b
    positive = None
    if layout.has_positive:
        positive, start = embeddings[b : 2 * b], 2 * b
    negatives = None
    if layout.num_negatives:
        k = layout.num_negatives
        negatives = embeddings[start : start + k * b].reshape(k, b, -1).transpose(0, 1)
    return query, positive, negatives


class Learner(nn.Module):
    """Model (+ predictor, + target) + objective: ``forward(step) -> (loss, EmbeddingBatch)``.

    The objective compares the ONLINE branch (encoder -> head -> predictor) of one view with the KEYS of the
    other: without a target the keys are the online embeddings themselves (SimCLR, SimCSE); a ``Target`` gives
    them without gradient (stop-gradient: SimSiam; momentum encoder: MoCo, BYOL). ``swapped_direction`` adds
    the swapped direction (view 2 -> keys of view 1) and sums (BYOL, MoCo v3) or averages (SimSiam) the two.
    After the loss the objective updates its own state (``Objective.after_step``: a queue enqueues the keys, a
    memory bank writes them, DINO's center moves).

    Args:
        model: the online ``ContrastiveModel``.
        objective: loss over an ``EmbeddingBatch``.
        predictor: MLP on the online branch only (BYOL, SimSiam, MoCo v3), or None.
        target: ``Target`` or None.
        swapped_direction: ``none``, ``sum`` or ``mean`` (the config's top-level ``symmetric``).
        tile_head: ``TileHead`` (PIRL's g) turning each sample's n trunk tile features into its query embedding,
            for tiled jigsaw queries; None otherwise.
        bn_running_stats: ``all_views`` (every pass moves BatchNorm running statistics) or ``full_views`` (the
            jigsaw tile and multi-crop local passes leave them to the full-size views: ``norm_stats.py``).
    """

    def __init__(
        self,
        model: ContrastiveModel,
        objective: Objective,
        predictor: MLPHead | None = None,
        target: Target | None = None,
        swapped_direction: str = "none",
        tile_head: TileHead | None = None,
        bn_running_stats: str = "all_views",
    ) -> None:
        super().__init__()
        if swapped_direction not in SWAPPED_DIRECTION:
            raise ValueError(f"swapped_direction (config: symmetric) must be one of {', '.join(SWAPPED_DIRECTION)}, "
                             f"got '{swapped_direction}'")
        if bn_running_stats not in BN_RUNNING_STATS:
            raise ValueError(f"bn_running_stats must be one of {', '.join(BN_RUNNING_STATS)}, got '{bn_running_stats}'")
        self.model = model
        self.objective = objective
        self.predictor = predictor
        self.target = target
        self.swapped_direction = swapped_direction
        self.tile_head = tile_head
        self.bn_running_stats = bn_running_stats

    def forward(self, step: StepBatch | None = None, *, embed: Inputs | None = None) -> Any:
        """-> (loss, EmbeddingBatch of the first direction) of ``step``. ``embed=inputs`` returns the online
        model's embeddings (N, D) of those inputs alone: gradient caching's chunk passes go through here so that
        DDP sees them."""
        if embed is not None:
            return self.model(embed)
        if step is None:
            raise ValueError("Learner.forward needs the step's batch (flatten_views) or embed=inputs")
        online = self.model(step.inputs)  # (N_total, D)
        crop_inputs = list(step.crop_inputs)
        if step.layout.query_tiles:  # PIRL: the query rows come from the tiles, before the other roles' rows
            online = torch.cat([self.tiled_queries(crop_inputs.pop(), step.layout), online])
        keys = online if self.target is None else self.target.keys(step.inputs, online)
        with self.small_pass_stats(self.model):
            crops = [self.model(group) for group in crop_inputs]
        return self.loss_from_embeddings(online, keys, step, crops)

    def loss_from_embeddings(
        self,
        online: torch.Tensor,
        keys: torch.Tensor,
        step: StepBatch,
        crop_embeddings: Sequence[torch.Tensor] = (),
    ) -> tuple[torch.Tensor, EmbeddingBatch]:
        """The loss from the online model's embeddings (N_total, D), the keys (N_total, D) and the embeddings of
        each multi-crop resolution group (V_g * B, D), for ``step``'s layout, labels and indices: predictor, split
        by role, objective, then the objective's own update (``Objective.after_step``: its negatives see the keys).
        ``forward`` and gradient caching (which embeds in chunks) share it. Sequences (``layout.sequence_length``)
        go through ``sequence_directions`` instead, and their losses are averaged. Under mixed precision the
        objective gets float32 embeddings and runs with autocast off (``objectives/precision.py``)."""
        layout, labels, indices = step.layout, step.labels, step.indices
        if layout.sequence_length:
            directions = [float32_batch(batch) for batch in self.sequence_directions(online, layout)]
            with float32_objective(online.device):
                loss = torch.stack([self.objective(batch) for batch in directions]).mean()
        else:
            predictions = self.predictor(online) if self.predictor is not None else online
            q_pred, p_pred, _ = split_embeddings(predictions, layout)
            q_key, p_key, negatives = split_embeddings(keys, layout)
            crops = self._arrange_crops(crop_embeddings, layout)
            scale = self.model.logit_scale()
            directions = [EmbeddingBatch(q_pred, p_key, negatives, labels, crops, indices, scale)]
            if self.swapped_direction != "none":
                if p_pred is None or q_key is None:
                    raise ValueError("symmetric loss needs a positive view")
                directions.append(EmbeddingBatch(p_pred, q_key, negatives, labels, crops, indices, scale))
            directions = [float32_batch(batch) for batch in directions]  # mixed precision: the loss in float32
            with float32_objective(online.device):
                losses = [self.objective(batch) for batch in directions]
            loss = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
            if self.swapped_direction == "mean":
                loss = loss / len(losses)
        if self.training:
            self.objective.after_step(directions, indices)
        return loss, directions[0]

    def small_pass_stats(self, module: nn.Module) -> ContextManager[None]:
        """Context for a pass of jigsaw tiles or multi-crop local crops through ``module``: with
        ``bn_running_stats: full_views`` it leaves BatchNorm's running statistics as they are; a no-op otherwise."""
        return running_stats_frozen(module, self.bn_running_stats == "full_views")

    def tiled_queries(self, tile_inputs: dict[str, torch.Tensor], layout: RoleLayout) -> torch.Tensor:
        """(B * n) tile inputs -> (B, D') query embeddings: the trunk embeds every tile on its own, the tile head
        combines each sample's n features (PIRL's g, ``TileHead.embed_tiles``). No target branch: the keys are
        these online embeddings."""
        trunk = getattr(self.model, "encoder", None)
        if self.tile_head is None or self.target is not None or trunk is None:
            raise ValueError("tiled jigsaw queries need a tile_head, a single tower and no target branch")
        with self.small_pass_stats(trunk):
            return self.tile_head.embed_tiles(trunk, tile_inputs, layout.batch)

    def sequence_directions(self, online: torch.Tensor, layout: RoleLayout) -> list[EmbeddingBatch]:
        """Sequence views (contrastive predictive coding): the (S * T, D) embeddings of S sequences of T items ->
        the encoder's own (prediction, target) batches, one per step ahead (``sequence_batches`` of encoder
        ``cpc``). Head, predictor, target and symmetric have no meaning here and are errors."""
        encoder = getattr(self.model, "encoder", None)
        batches = getattr(encoder, "sequence_batches", None)
        extra = {"head": getattr(self.model, "head", None), "predictor": self.predictor, "target": self.target}
        unsupported = [key for key, value in extra.items() if value is not None]
        if self.swapped_direction != "none":
            unsupported.append("symmetric")
        if batches is None or unsupported:
            raise ValueError("a view of sequences (e.g. 'sentence_windows') needs a sequence encoder that predicts "
                             "later steps (encoder: {name: cpc, ...}), without head, predictor, target or symmetric"
                             f" (got encoder {type(encoder).__name__}, set: {unsupported})")
        t = layout.sequence_length
        return batches(online.reshape(layout.batch // t, t, -1))

    def _arrange_crops(self, crop_embeddings: Sequence[torch.Tensor], layout: RoleLayout) -> torch.Tensor | None:
        """Multi-crop embeddings, one (V_g * B, D) per resolution group -> (B, V, D) through the predictor."""
        if not crop_embeddings:
            return None
        parts = []
        for emb, count in zip(crop_embeddings, layout.crop_groups):
            if self.predictor is not None:
                emb = self.predictor(emb)
            parts.append(emb.reshape(count, layout.batch, -1))
        return torch.cat(parts, dim=0).transpose(0, 1)

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Momentum update of the target branch (no-op without one), the objective's schedules (DINO's teacher
        temperature); a dual encoder's logit scale is clamped."""
        if self.target is not None:
            self.target.update(self.model, step, total_steps)
        self.objective.after_optimizer_step(step, total_steps)
        self.model.after_optimizer_step()
