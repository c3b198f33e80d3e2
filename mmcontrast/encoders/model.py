"""``ContrastiveModel``: an encoder with an optional head, trained on views and used to ``encode`` inputs."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..batch import StepBatch, ViewBatch
from .heads import MLPHead
from .roles import TILES_NEED_ONE_TOWER, check_tiles, crop_group_inputs, layout_of, query_and_rest, step_batch
from .text import TextEncoder
from .vision import VisionEncoder

Encoder = TextEncoder | VisionEncoder
Items = Sequence[str] | torch.Tensor


class ContrastiveModel(nn.Module):
    """Encoder (+ head). ``forward`` is the training path (head included); ``encode`` is the evaluation and
    export path (a ``train_only`` head is dropped, as SimCSE drops its MLP).

    ``prompts`` maps a role (``query``, ``passage``) to a text prefix put before every text of that role, as in
    E5 ("query: ", "passage: "); the exported Sentence-Transformers folder carries them as its prompts.
    """

    def __init__(self, encoder: Encoder, head: MLPHead | None = None, prompts: dict[str, str] | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.prompts = dict(prompts or {})
        if self.prompts and encoder.modality != "text":
            raise ValueError("prompts are text prefixes: they need a text encoder")

    def with_prompt(self, items: Items, role: str | None) -> Items:
        """Prefix texts with the prompt of ``role`` (unchanged without one)."""
        prompt = self.prompts.get(role or "", "")
        if not prompt or isinstance(items, torch.Tensor):
            return items
        return [prompt + text for text in items]

    @property
    def modality(self) -> str:
        return self.encoder.modality

    @property
    def embedding_dim(self) -> int:
        if self.head is not None and not self.head.train_only:
            return self.head.output_dim
        return self.encoder.embedding_dim

    @property
    def train_dim(self) -> int:
        """Dimension of the training embeddings (``forward``): the head's output when there is a head."""
        return self.head.output_dim if self.head is not None else self.encoder.embedding_dim

    def prepare(self, items: Items, keep_size: bool = False) -> dict[str, torch.Tensor]:
        """Raw items (N texts, or an image tensor (N, C, H, W)) -> model inputs. ``keep_size`` feeds images at
        their own resolution (multi-crop local crops) instead of resizing them to the encoder's image size."""
        if keep_size:
            return self.encoder.prepare(items, keep_size=True)  # type: ignore[arg-type, call-arg]
        return self.encoder.prepare(items)  # type: ignore[arg-type]

    def prepare_views(self, views: ViewBatch) -> StepBatch:
        """Every role's items -> ONE model input (queries, then positives, then negatives; texts get the prompt
        of their role: queries "query", positives and negatives "passage") and the layout to split the
        embeddings again. Multi-crop views are grouped by resolution, one crop input per group (their own size
        is kept). Jigsaw tiles (``views.tiled_query``) are one more input after the crop groups, at their own
        size, and the main input holds the other roles only."""
        if views.tiled_query:
            return self._prepare_tiled_query(views)
        query, rest = query_and_rest(views)
        if isinstance(query, torch.Tensor):
            inputs = self.prepare(torch.cat([query, rest], dim=0) if rest is not None else query)
        else:
            inputs = self.prepare(self.with_prompt(query, "query") + self.with_prompt(rest, "passage"))
        crop_inputs, crop_groups = crop_group_inputs(self.prepare, views.crops)
        return step_batch(views, inputs, layout_of(views, crop_groups), crop_inputs)

    def _prepare_tiled_query(self, views: ViewBatch) -> StepBatch:
        """PIRL's per-tile encoding: the positives (B images) are the main input; the query tiles (B, n, C, th,
        tw) become one (B * n, C, th, tw) input at their own size (``TileHead.embed_tiles`` embeds it)."""
        if self.modality != "vision":
            raise ValueError(TILES_NEED_ONE_TOWER)
        tiles = check_tiles(views)
        inputs = self.prepare(views.positive)  # type: ignore[arg-type]
        tile_inputs = self.prepare(tiles.flatten(0, 1), keep_size=True)
        return step_batch(views, inputs, layout_of(views, query_tiles=tiles.shape[1]), [tile_inputs])

    def logit_scale(self) -> torch.Tensor | None:
        """The model's learnable logit scale for the objective: none (only a dual encoder owns one)."""
        return None

    def after_optimizer_step(self) -> None:
        """Called after every optimizer step: nothing to do for one tower."""

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Training embeddings (N, D'): encoder then head."""
        features = self.encoder(inputs)
        return self.head(features) if self.head is not None else features

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Evaluation embeddings (N, D): the head only if it is not train-only."""
        features = self.encoder(inputs)
        if self.head is not None and not self.head.train_only:
            features = self.head(features)
        return features

    @torch.inference_mode()
    def encode(
        self, items: Items, batch_size: int = 128, device: torch.device | str | None = None, role: str | None = None
    ) -> torch.Tensor:
        """Embed N items in eval mode without gradient -> float32 CPU tensor (N, D).

        Texts get the prompt of ``role`` (if any), are batched in order of token count (``TextEncoder.lengths``:
        least padding) and returned in input order.
        """
        items = self.with_prompt(items, role)
        was_training = self.training
        self.eval()
        device = torch.device(device) if device is not None else _device_of(self)
        try:
            n = len(items)
            if isinstance(items, torch.Tensor):
                order = list(range(n))
            else:
                lengths = getattr(self.encoder, "lengths", None)  # token counts where the encoder has them
                size = lengths(list(items)) if lengths is not None else [len(t) for t in items]  # type: ignore
                order = sorted(range(n), key=lambda i: -size[i])
            chunks = []
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                if isinstance(items, torch.Tensor):
                    batch: Any = items[idx[0] : idx[-1] + 1]
                else:
                    batch = [items[i] for i in idx]
                inputs = {k: v.to(device) for k, v in self.prepare(batch).items()}
                chunks.append(self.embed(inputs).float().cpu())
            if not chunks:
                return torch.zeros(0, self.embedding_dim)
            out = torch.cat(chunks)
            result = torch.empty_like(out)
            result[torch.tensor(order)] = out
            return result
        finally:
            self.train(was_training)


def _device_of(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
