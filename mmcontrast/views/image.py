"""Vision pretext task: two augmented views of each image (SimCLR, Chen et al. 2020)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ..registry import closest
from .augment import AugmentConfig, ImageAugmentation
from .base import View, ViewBatch, column


def augment_config(params: dict[str, Any] | None, where: str = "view.augment") -> AugmentConfig:
    """``AugmentConfig`` from a mapping; an unknown key is an error naming the closest field. Normalisation
    is left to the encoder (which owns mean/std, as its exported image processor does)."""
    params = dict(params or {})
    names = [f.name for f in dataclasses.fields(AugmentConfig)]
    for key in params:
        if key not in names or key in ("mean", "std"):
            valid = [n for n in names if n not in ("mean", "std")]
            raise ValueError(f"unknown key '{where}.{key}'{closest(key, valid)}; valid keys: {', '.join(valid)}")
    for key, value in params.items():
        if isinstance(value, list):
            params[key] = tuple(value)
    return AugmentConfig(**params, mean=(0.0,), std=(1.0,))


class TwoViewAugment(View):
    """Each image becomes two independently augmented views (random resized crop, flip, colour jitter,
    grayscale, blur), applied batched on tensors and reproducible from ``seed``.

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        label_column: optional label column, passed on as ``labels`` (SupCon, kNN).
        augment: ``AugmentConfig`` fields (size, crop_scale, flip_p, brightness, ..., blur_p).
        seed, device: injected by the trainer (seed differs per process).
    """

    def __init__(
        self,
        column: str = "image",
        label_column: str | None = None,
        augment: dict[str, Any] | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.column = column
        self.label_column = label_column
        self.augmentation = ImageAugmentation(augment_config(augment))
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = column(batch, self.column, "two_view_augment")
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"view 'two_view_augment': column '{self.column}' must hold image tensors")
        if images.device != self.generator.device:
            images = images.to(self.generator.device)
        labels = None if self.label_column is None else column(batch, self.label_column, "two_view_augment")
        return ViewBatch(
            query=self.augmentation(images, self.generator),
            positive=self.augmentation(images, self.generator),
            labels=labels,
        )
