"""Image-caption view (CLIP, Radford et al. 2021): each image is the query and one of its captions the positive;
the other captions of the (global) batch are its negatives, and the symmetric loss adds the text -> image
direction."""

from __future__ import annotations

from typing import Any

import torch

from ..citations import CLIP
from ..data.image_text import captions_of
from .base import ViewBatch, column
from .image import ImageAugmentation, ImageView, augment_config
from .sentences import row_name


class ImageCaption(ImageView):
    """ViewBatch(query = images (B, C, H, W), positive = B captions, labels?, indices).

    A row's caption column holds one caption or a list (several captions per image, or the prompt templates of
    ``labelled_captions``): one is drawn per row and step with ``self.generator`` (seeded, checkpointed), as
    CLIP samples one of COCO's five captions.

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        caption_column: caption column (str or list of str per row).
        label_column: optional label column passed on as ``labels``.
        augment: optional ``AugmentConfig`` fields (e.g. ``{size: 32, crop_scale: [0.8, 1.0]}``) for a random
            resized crop / flip / jitter of the images; none by default (CLIP trains on plain resized images).
        seed, device: injected by the trainer (seed differs per process).
    """

    card_summary = (
        "Image-caption pairs (CLIP, Radford et al., 2021): each image is the query and one of its captions the "
        "positive, the other captions of the batch negatives"
    )
    citation = CLIP

    name = "image_caption"

    def __init__(
        self,
        column: str = "image",
        caption_column: str = "caption",
        label_column: str | None = None,
        augment: dict[str, Any] | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(column, label_column, seed, device)
        self.caption_column = caption_column
        self.augmentation = ImageAugmentation(augment_config(augment)) if augment is not None else None

    def captions(self, batch: dict[str, Any]) -> list[str]:
        """One caption per row, drawn uniformly among the row's captions."""
        values = list(column(batch, self.caption_column, self.name))
        draws = torch.rand(len(values), generator=self.generator, device=self.generator.device).cpu().tolist()
        chosen = []
        for i, (value, u) in enumerate(zip(values, draws)):
            options = captions_of(value, f"view '{self.name}': {row_name(batch, i)}", self.caption_column)
            chosen.append(options[min(int(u * len(options)), len(options) - 1)])
        return chosen

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = self.images(batch)
        if self.augmentation is not None:
            images = self.augmentation(images, self.generator)
        return ViewBatch(query=images, positive=self.captions(batch), labels=self.labels(batch),
                         indices=self.indices(batch))
