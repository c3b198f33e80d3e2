"""Image-text dual encoder (CLIP, Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision"): any Hugging Face vision model and any Hugging Face text model, each followed by a bias-free linear
projection to a shared dimension, and a learnable logit scale initialised at ln(1/0.07) and clamped to at most
100. Either tower can be locked (LiT, Zhai et al. 2022, "LiT: Zero-Shot Transfer with Locked-image text Tuning":
a locked image tower with a trained text tower), or both, so that only the projections (and the scale) train.

The layout is that of ``transformers.VisionTextDualEncoderModel`` (``vision_model``/``visual_projection``,
``text_model``/``text_projection``, ``logit_scale``), so that the export is a plain copy of weights.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
from torch import nn

from ..batch import StepBatch, ViewBatch
from ..citations import CLIP
from ..registry import closest
from ..temperature import Temperature
from .model import ContrastiveModel
from .roles import TILES_NEED_ONE_TOWER, layout_of, other_roles, step_batch
from .text import TextEncoder
from .vision import VisionEncoder

IMAGE, TEXT, TEXT_INDEX = "image", "text", "text_index"


class Projection(nn.Module):
    """Bias-free linear projection (N, input_dim) -> (N, output_dim), kept at evaluation and export (CLIP's
    ``visual_projection`` / ``text_projection``)."""

    train_only = False

    def __init__(self, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim, bias=False)
        self.output_dim = output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def _check_keys(params: dict[str, Any] | None, factory: type, key: str) -> dict[str, Any]:
    """``params`` checked against ``factory``'s constructor: unknown keys name the closest valid one."""
    if not isinstance(params, dict):
        raise ValueError(f"'{key}' must be a mapping of {factory.__name__} settings, got {params!r}")
    valid = [k for k in inspect.signature(factory).parameters if k != "self"]
    for name in params:
        if name not in valid:
            raise ValueError(f"unknown key '{key}.{name}'{closest(name, valid)}; valid keys: {', '.join(valid)}")
    return dict(params)


class DualEncoderModel(nn.Module):
    """A vision tower and a text tower embedding into one space, with a learnable logit scale.

    Training inputs are ``{"image": pixel inputs (B images), "text": token inputs (U distinct texts),
    "text_index": (P,) row of each text among the U}``; ``forward``
    returns the B image rows, then the P text rows (B + P, projection_dim), the layout ``flatten_views``
    expects for a view with images as queries and captions as positives (and, optionally, caption negatives).
    ``encode`` embeds an image tensor (N, C, H, W) with the vision tower and a list of N texts with the text
    tower (projected, not normalised), as ``VisionTextDualEncoderModel.get_image_features`` /
    ``get_text_features`` do after export.

    Args:
        vision: ``VisionEncoder`` settings (``model`` or ``config``, ``image_size``, ``mean``, ``std``, ...).
        text: ``TextEncoder`` settings (``model`` or ``config``, ``tokenizer``, ``pooling``, ``max_length``).
            ``pooling: cls`` (the default here) uses the model's pooler output, which is what
            ``VisionTextDualEncoderModel`` projects; other poolings train but cannot be exported natively.
        projection_dim: shared embedding size D.
        temperature: initial tau; the learnable parameter is log(1/tau) (CLIP: 0.07, i.e. ln(1/0.07) = 2.659;
            SigLIP: 0.1, i.e. scale 10).
        learnable_temperature: learn the logit scale (otherwise it stays 1/tau).
        max_logit_scale: clamp of the scale 1/tau (100 in CLIP): applied in every forward and, after each
            optimizer step, to the parameter itself.
        lock_vision: freeze the vision backbone (LiT); it stays in eval mode (BatchNorm statistics frozen too).
        lock_text: freeze the text backbone. Both locked: only the projections (and the scale) train.
    """

    card_summary = (
        "Image-text dual encoder (CLIP, Radford et al., 2021): a vision and a text tower with linear projections "
        "into one space and a learned logit scale"
    )
    citation = CLIP
    tags = ("vision-text-dual-encoder",)

    modality = "image_text"

    def __init__(
        self,
        vision: dict[str, Any],
        text: dict[str, Any],
        projection_dim: int = 512,
        temperature: float = 0.07,
        learnable_temperature: bool = True,
        max_logit_scale: float = 100.0,
        lock_vision: bool = False,
        lock_text: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(projection_dim, int) or projection_dim < 1:
            raise ValueError(f"encoder.projection_dim must be a positive integer, got {projection_dim!r}")
        text_params = {"pooling": "cls", **_check_keys(text, TextEncoder, "encoder.text")}
        vision_encoder = VisionEncoder(**_check_keys(vision, VisionEncoder, "encoder.vision"))
        text_encoder = TextEncoder(**text_params)
        self.vision = ContrastiveModel(vision_encoder, Projection(vision_encoder.embedding_dim, projection_dim))
        self.text = ContrastiveModel(text_encoder, Projection(text_encoder.embedding_dim, projection_dim))
        self.temperature = Temperature(temperature, learnable_temperature, max_logit_scale)
        self.lock_vision, self.lock_text = bool(lock_vision), bool(lock_text)
        for locked, tower in ((self.lock_vision, self.vision), (self.lock_text, self.text)):
            if locked:
                tower.encoder.requires_grad_(False)
                tower.encoder.eval()

    # ------------------------------------------------------------------------------------------ properties

    @property
    def embedding_dim(self) -> int:
        return self.vision.embedding_dim

    @property
    def train_dim(self) -> int:
        return self.vision.train_dim

    def logit_scale(self) -> torch.Tensor:
        """The logit scale exp(t) = 1/tau (scalar tensor, with gradient when learnable), at most
        ``max_logit_scale``."""
        return self.temperature.scale()

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        """Clamp the parameter itself to log(max_logit_scale) (OpenCLIP does this after every step), so that it
        never sits above the clamp where its gradient would be zero."""
        self.temperature.log_scale.clamp_(max=self.temperature.max_log_scale)

    def train(self, mode: bool = True) -> "DualEncoderModel":
        """Train mode for the trained parts; a locked backbone stays in eval mode (no dropout, frozen BatchNorm
        statistics: its weights AND buffers stay bit-identical)."""
        super().train(mode)
        if self.lock_vision:
            self.vision.encoder.eval()
        if self.lock_text:
            self.text.encoder.eval()
        return self

    # ------------------------------------------------------------------------------------------ training

    def prepare_roles(self, queries: Any, passages: Any) -> dict[str, dict[str, torch.Tensor]]:
        """Images (B, C, H, W) as queries and texts (P) as positives/negatives -> nested training inputs.

        Identical texts are tokenised and embedded once (``text_index`` maps each of the P rows to its distinct
        text): templated captions of a labelled set repeat within a batch, and an embedding computed once and
        indexed P times has the same gradient as P computations (up to dropout masks, which duplicates then
        share)."""
        if not isinstance(queries, torch.Tensor) or isinstance(passages, torch.Tensor):
            raise ValueError(
                "the dual encoder takes images as queries and texts as positives (view 'image_caption'); got "
                f"queries of type {type(queries).__name__} and positives of type {type(passages).__name__}"
            )
        unique: dict[str, int] = {}
        index = [unique.setdefault(text, len(unique)) for text in passages]
        return {IMAGE: self.vision.prepare(queries), TEXT: self.text.prepare(list(unique)),
                TEXT_INDEX: torch.tensor(index, dtype=torch.long)}

    def prepare_views(self, views: ViewBatch) -> StepBatch:
        """Images through the vision tower, captions (positives, then negatives) through the text tower. Multi-crop
        views are not used (as before: a dual encoder trains on image-caption pairs)."""
        if views.tiled_query:
            raise ValueError(TILES_NEED_ONE_TOWER)
        others = other_roles(views)
        if not others:
            raise ValueError("a dual encoder needs captions (a positive view) besides the images")
        inputs = self.prepare_roles(views.query, [item for group in others for item in group])
        return step_batch(views, inputs, layout_of(views))

    def after_optimizer_step(self) -> None:
        """Called after every optimizer step: the logit scale is clamped."""
        self.clamp_logit_scale()

    def _tower(self, tower: ContrastiveModel, inputs: dict[str, torch.Tensor], locked: bool) -> torch.Tensor:
        if locked:  # no graph through a frozen backbone; its projection still trains
            with torch.no_grad():
                features = tower.encoder(inputs)
            return tower.head(features)
        return tower(inputs)

    def forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        """(B + P, D): projected image rows, then projected text rows."""
        towers, rows = self.split_row_map(inputs)
        images = self._tower(self.vision, towers[IMAGE], self.lock_vision)
        texts = self._tower(self.text, towers[TEXT], self.lock_text)
        embeddings = torch.cat([images, texts], dim=0)
        # identical captions were embedded once: one row per caption again
        return embeddings if rows is None else embeddings[rows.to(embeddings.device)]

    @staticmethod
    def split_row_map(inputs: dict[str, Any]) -> tuple[dict[str, Any], torch.Tensor | None]:
        """Training inputs -> (the tower inputs alone, the (B + P,) row of each output embedding among the
        B + U rows that ``forward`` of the tower inputs alone returns), or (inputs, None) without ``text_index``.
        ``forward(inputs) == forward(tower_inputs)[rows]``: gradient caching chunks the towers, then maps."""
        if TEXT_INDEX not in inputs:
            return inputs, None
        towers = {k: v for k, v in inputs.items() if k != TEXT_INDEX}
        images = next(iter(towers[IMAGE].values())).shape[0]
        index = inputs[TEXT_INDEX]
        rows = torch.cat([torch.arange(images, device=index.device), images + index])
        return towers, rows

    # ------------------------------------------------------------------------------------------ evaluation

    def tower(self, items: Any) -> ContrastiveModel:
        """The vision tower for an image tensor, the text tower for texts."""
        return self.vision if isinstance(items, torch.Tensor) else self.text

    def encode(
        self, items: Sequence[str] | torch.Tensor, batch_size: int = 128, device: torch.device | str | None = None,
        role: str | None = None,
    ) -> torch.Tensor:
        """(N, D) projected embeddings (float32, CPU) of images (N, C, H, W) or of N texts."""
        try:
            return self.tower(items).encode(items, batch_size=batch_size, device=device)
        finally:  # the tower restored its own mode: put a locked backbone back into eval mode
            self.train(self.training)
