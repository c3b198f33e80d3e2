"""Rotation views (Gidaris et al. 2018, "Unsupervised Representation Learning by Predicting Image
Rotations", RotNet): quarter-turn rotations either as an invariance between two views or as a 4-class label."""

from __future__ import annotations

from typing import Any

import torch

from ..citations import ROTATION
from .augment import ImageAugmentation, _pair, _rand, rotate90
from .base import LABELS, ViewBatch
from .image import ImageView, augment_config

NUM_ROTATIONS = 4  # 0, 90, 180, 270 degrees


def random_quarter_turns(batch: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(B,) long k ~ U{0, 1, 2, 3}: the number of counter-clockwise quarter turns of each sample."""
    return (_rand((batch,), generator, device) * NUM_ROTATIONS).long().clamp(max=NUM_ROTATIONS - 1)


class Rotation(ImageView):
    """Each image is augmented and rotated counter-clockwise by k * 90 degrees, k ~ U{0..3} per sample.

    - ``predict_rotation: false`` (default): ViewBatch(query = augmented view rotated by k1 (B, C, S, S),
      positive = another augmented view rotated by an independent k2 (B, C, S, S), labels, indices): the
      objective pulls the two together, so the features become rotation-invariant.
    - ``predict_rotation: true``: RotNet's pretext task as labels, ViewBatch(query = augmented view rotated by
      k (B, C, S, S), positive = None, labels = k (B,) long in {0, 1, 2, 3}, indices), for a label-based
      objective (SupCon groups the images by their rotation).

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        label_column: optional label column passed on as ``labels`` (not with ``predict_rotation``).
        augment: ``AugmentConfig`` fields; ``size`` must be square.
        predict_rotation: labels = rotation class instead of a positive view.
        seed, device: injected by the trainer.
    """

    card_summary = (
        "Rotation (Gidaris et al., 2018): images rotated by random multiples of 90 degrees (as positives, or with"
        " the rotation as label)"
    )
    citation = ROTATION

    name = "rotation"

    @classmethod
    def outputs(cls, params: dict[str, Any]) -> frozenset[str]:
        """``gives``, and ``labels`` when ``label_column`` is set or with ``predict_rotation`` (the rotations)."""
        return super().outputs(params) | ({LABELS} if params.get("predict_rotation") is True else set())

    def __init__(
        self,
        column: str = "image",
        label_column: str | None = None,
        augment: dict[str, Any] | None = None,
        predict_rotation: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(column, label_column, seed, device)
        if not isinstance(predict_rotation, bool):
            raise ValueError(f"view 'rotation': 'view.predict_rotation' must be true or false, "
                             f"got {predict_rotation!r}")
        if predict_rotation and label_column is not None:
            raise ValueError("view 'rotation': 'view.label_column' cannot be used with 'view.predict_rotation: "
                             "true', whose labels are the rotation classes")
        self.augmentation = ImageAugmentation(augment_config(augment))
        height, width = _pair(self.augmentation.cfg.size)
        if height != width:
            raise ValueError(f"view 'rotation': 'view.augment.size' must be square for quarter turns, got "
                             f"{height}x{width}")
        self.predict_rotation = predict_rotation

    def rotated_view(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(augmented view rotated by k (B, C, S, S), k (B,))."""
        view = self.augmentation(images, self.generator)
        k = random_quarter_turns(view.shape[0], self.generator, view.device)
        return rotate90(view, k), k

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = self.images(batch)
        query, k = self.rotated_view(images)
        if self.predict_rotation:
            return ViewBatch(query=query, labels=k, indices=self.indices(batch))
        positive, _ = self.rotated_view(images)
        return ViewBatch(query=query, positive=positive, labels=self.labels(batch), indices=self.indices(batch))
