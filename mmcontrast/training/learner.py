"""``Learner``: the one module handed to Accelerate/DDP, so that the encoder, its head, the predictor, the
target branch AND the objective's parameters and buffers (a learnable temperature, prototypes, a queue) are
synchronised and checkpointed together. The objective still only sees embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ContextManager, Sequence

import torch
from torch import nn

from ..batch import EmbeddingBatch
from ..config import BN_RUNNING_STATS
from ..encoders import ContrastiveModel, DualEncoderModel, MLPHead, Target, TileHead, TwoTowerModel
from ..objectives import Objective
from ..objectives.precision import float32_batch, float32_objective
from ..views import ViewBatch
from .norm_stats import running_stats_frozen

#: how the swapped loss direction (view 2 against the keys of view 1; the config's top-level ``symmetric``) joins
#: the first: not at all, summed (BYOL, MoCo v3) or averaged (SimSiam)
SWAPPED_DIRECTION = ("none", "sum", "mean")


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


def flatten_views(
    model: ContrastiveModel | TwoTowerModel | DualEncoderModel, views: ViewBatch
) -> tuple[dict[str, Any], RoleLayout, list[dict[str, torch.Tensor]]]:
    """Concatenate every role's items into ONE model input (one forward: SimCSE's dropout twins come from the
    same call, BatchNorm sees both SimCLR views) and remember the layout to split the embeddings again.
    A two-tower model gets ``{"query": ..., "passage": ...}`` (queries through one tower, positives and
    negatives through the other); an image-text dual encoder ``{"image": ..., "text": ...}`` (image queries,
    caption positives and negatives). Multi-crop views are grouped by resolution, one input per group (their own
    size is kept). Jigsaw tiles (``views.tiled_query``) are one more input after the crop groups, at their own
    size, and the main input holds the other roles only."""
    if views.tiled_query:
        return _flatten_tiled_query(model, views)
    negatives = views.negatives or []
    others: list[Any] = ([views.positive] if views.positive is not None else []) + list(negatives)
    if isinstance(model, DualEncoderModel):  # images through the vision tower, captions through the text tower
        if not others:
            raise ValueError("a dual encoder needs captions (a positive view) besides the images")
        inputs = model.prepare_roles(views.query, [item for group in others for item in group])
        layout = RoleLayout(len(views.query), views.positive is not None, len(negatives))
        return inputs, layout, []
    if isinstance(views.query, torch.Tensor):
        query: Any = views.query
        rest: Any = torch.cat(others, dim=0) if others else None
    else:
        query, rest = list(views.query), [item for group in others for item in group]
    if isinstance(model, TwoTowerModel):  # the towers add their own prompts
        if rest is None or len(rest) == 0:
            raise ValueError("a two-tower model needs passages (a positive view) besides the queries")
        inputs = model.prepare_roles(query, rest)
    elif isinstance(query, torch.Tensor):
        inputs = model.prepare(torch.cat([query, rest], dim=0) if rest is not None else query)
    else:  # texts: each role gets its prompt (queries "query", positives and negatives "passage")
        inputs = model.prepare(model.with_prompt(query, "query") + model.with_prompt(rest, "passage"))
    crop_inputs: list[dict[str, torch.Tensor]] = []
    crop_groups: list[int] = []
    for size in dict.fromkeys(tuple(c.shape[-2:]) for c in views.crops or []):
        same = [c for c in views.crops or [] if tuple(c.shape[-2:]) == size]
        crop_inputs.append(model.prepare(torch.cat(same, dim=0), keep_size=True))
        crop_groups.append(len(same))
    layout = RoleLayout(len(views.query), views.positive is not None, len(negatives), tuple(crop_groups),
                        views.sequence_length or 0)
    return inputs, layout, crop_inputs


def _flatten_tiled_query(
    model: ContrastiveModel | TwoTowerModel | DualEncoderModel, views: ViewBatch
) -> tuple[dict[str, Any], RoleLayout, list[dict[str, torch.Tensor]]]:
    """PIRL's per-tile encoding: the positives (B images) are the main input; the query tiles (B, n, C, th, tw)
    become one (B * n, C, th, tw) input at their own size."""
    tiles = views.query
    if not isinstance(model, ContrastiveModel) or model.modality != "vision":
        raise ValueError("jigsaw tiles (view.encode_tiles) need a single vision tower (encoder: {name: vision})")
    if not isinstance(tiles, torch.Tensor) or tiles.dim() != 5:
        raise ValueError(f"a tiled query must be a (B, n, C, th, tw) tensor, got {getattr(tiles, 'shape', type(tiles))}")
    if views.positive is None or views.negatives or views.crops:
        raise ValueError("a tiled query is contrasted with one positive view: no hard negatives or crops")
    inputs = model.prepare(views.positive)
    tile_inputs = model.prepare(tiles.flatten(0, 1), keep_size=True)
    return inputs, RoleLayout(tiles.shape[0], True, 0, query_tiles=tiles.shape[1]), [tile_inputs]


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
    """Model (+ predictor, + target) + objective: ``forward(inputs, layout, ...) -> (loss, EmbeddingBatch)``.

    The objective compares the ONLINE branch (encoder -> head -> predictor) of one view with the KEYS of the
    other: without a target the keys are the online embeddings themselves (SimCLR, SimCSE); a ``Target`` gives
    them without gradient (stop-gradient: SimSiam; momentum encoder: MoCo, BYOL). ``swapped_direction`` adds
    the swapped direction (view 2 -> keys of view 1) and sums (BYOL, MoCo v3) or averages (SimSiam) the two.
    After the loss the negatives see the keys (a queue enqueues them, a memory bank writes them).

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

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        layout: RoleLayout | None = None,
        labels: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
        crop_inputs: list[dict[str, torch.Tensor]] | None = None,
        embed_only: bool = False,
    ) -> Any:
        """-> (loss, EmbeddingBatch of the first direction). ``embed_only`` returns the online model's embeddings
        (N, D) of ``inputs`` alone: gradient caching's chunk passes go through here so that DDP sees them."""
        online = self.model(inputs)  # (N_total, D)
        if embed_only:
            return online
        if layout is None:
            raise ValueError("Learner.forward needs the role layout of the inputs (flatten_views)")
        crop_inputs = list(crop_inputs or [])
        if layout.query_tiles:  # PIRL: the query rows come from the tiles, before the other roles' rows
            online = torch.cat([self.tiled_queries(crop_inputs.pop(), layout), online])
        keys = online if self.target is None else self.target.keys(inputs, online)
        with self.small_pass_stats(self.model):
            crops = [self.model(group) for group in crop_inputs]
        return self.loss_from_embeddings(online, keys, layout, labels, indices, crops)

    def loss_from_embeddings(
        self,
        online: torch.Tensor,
        keys: torch.Tensor,
        layout: RoleLayout,
        labels: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
        crop_embeddings: Sequence[torch.Tensor] = (),
    ) -> tuple[torch.Tensor, EmbeddingBatch]:
        """The loss from the online model's embeddings (N_total, D), the keys (N_total, D) and the embeddings of
        each multi-crop resolution group (V_g * B, D): predictor, split by role, objective, negatives update.
        ``forward`` and gradient caching (which embeds in chunks) share it. Sequences (``layout.sequence_length``)
        go through ``sequence_directions`` instead, and their losses are averaged. Under mixed precision the
        objective gets float32 embeddings and runs with autocast off (``objectives/precision.py``)."""
        if layout.sequence_length:
            directions = [float32_batch(batch) for batch in self.sequence_directions(online, layout)]
            with float32_objective(online.device):
                loss = torch.stack([self.objective(batch) for batch in directions]).mean()
        else:
            predictions = self.predictor(online) if self.predictor is not None else online
            q_pred, p_pred, _ = split_embeddings(predictions, layout)
            q_key, p_key, negatives = split_embeddings(keys, layout)
            crops = self._arrange_crops(crop_embeddings, layout)
            scale = self.model.logit_scale() if isinstance(self.model, DualEncoderModel) else None
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
            with float32_objective(online.device):
                keys = [self.objective.keys(b) for b in directions]
            self.objective.negatives.update([k for k in keys if k is not None], indices)
            self.objective.after_loss(directions)
        return loss, directions[0]

    def small_pass_stats(self, module: nn.Module) -> ContextManager[None]:
        """Context for a pass of jigsaw tiles or multi-crop local crops through ``module``: with
        ``bn_running_stats: full_views`` it leaves BatchNorm's running statistics as they are; a no-op otherwise."""
        return running_stats_frozen(module, self.bn_running_stats == "full_views")

    def tiled_queries(self, tile_inputs: dict[str, torch.Tensor], layout: RoleLayout) -> torch.Tensor:
        """(B * n) tile inputs -> (B, D') query embeddings: the trunk embeds every tile on its own, the tile head
        combines each sample's n features (PIRL's g). No target branch: the keys are these online embeddings."""
        if self.tile_head is None or self.target is not None or not isinstance(self.model, ContrastiveModel):
            raise ValueError("tiled jigsaw queries need a tile_head, a single tower and no target branch")
        with self.small_pass_stats(self.model.encoder):
            features = self.model.encoder(tile_inputs)  # (B * n, H)
        return self.tile_head(features.reshape(layout.batch, layout.query_tiles, -1))

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
        if isinstance(self.model, DualEncoderModel):
            self.model.clamp_logit_scale()
