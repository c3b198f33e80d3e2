"""Vision pretext task: two augmented views of each image (SimCLR, Chen et al. 2020), optionally asymmetric
(BYOL's weak/strong pair, Grill et al. 2020); and ``ImageView``, the column/seed handling every image view
shares."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import torch

from ..citations import SIMCLR
from ..registry import closest
from ..value_types import describe, matches
from .augment import AugmentConfig, ImageAugmentation
from .base import INDICES, LABELS, View, ViewBatch, column

AUGMENT_KEYS = [f.name for f in dataclasses.fields(AugmentConfig) if f.name not in ("mean", "std")]


def augment_config(
    params: dict[str, Any] | None, where: str = "view.augment", base: dict[str, Any] | None = None
) -> AugmentConfig:
    """``AugmentConfig`` from a mapping (laid over ``base``, a mapping already checked); an unknown key is an
    error naming the closest field, a bad value an error naming ``where``. Normalisation is left to the
    encoder (which owns mean/std, as its exported image processor does)."""
    params = dict(params or {})
    for key in params:
        if key not in AUGMENT_KEYS:
            raise ValueError(
                f"unknown key '{where}.{key}'{closest(key, AUGMENT_KEYS)}; valid keys: {', '.join(AUGMENT_KEYS)}"
            )
    merged = {**(base or {}), **params}
    hints = typing.get_type_hints(AugmentConfig)
    for key, value in merged.items():
        if not matches(value, hints[key]):
            raise ValueError(f"{where}.{key} must be {describe(hints[key])}, got {value!r} ({type(value).__name__})")
        if isinstance(value, list):
            merged[key] = tuple(value)
    try:
        return AugmentConfig(**merged, mean=(0.0,), std=(1.0,))
    except (TypeError, ValueError) as err:  # the message names the field as AugmentConfig.<key>: name the config key
        raise ValueError(str(err).replace("AugmentConfig.", f"{where}.")) from None


class ImageView(View):
    """Shared plumbing of the image views: the image column (uint8 or float (B, C, H, W) / (B, H, W) tensors,
    moved to the generator's device), the optional label column, the dataset ``index`` column for
    index-addressed negatives (memory bank), and ``self.generator`` seeded from ``seed`` on ``device``
    (both injected by the trainer; the seed differs per process)."""

    name = "image view"
    gives = frozenset({INDICES})

    @classmethod
    def outputs(cls, params: dict[str, Any]) -> frozenset[str]:
        """``gives``, and ``labels`` when ``label_column`` is set."""
        return cls.gives | ({LABELS} if params.get("label_column") is not None else set())

    def __init__(self, column: str, label_column: str | None, seed: int, device: str | torch.device) -> None:
        self.column = column
        self.label_column = label_column
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def images(self, batch: dict[str, Any]) -> torch.Tensor:
        """The image column as a tensor on the generator's device; anything else is an error naming the view
        and its ``column`` key."""
        images = column(batch, self.column, self.name)
        if not isinstance(images, torch.Tensor) or images.dim() not in (3, 4):
            got = f"a tensor of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else (
                f"a {type(images).__name__}")
            raise TypeError(f"view '{self.name}': column '{self.column}' (key 'view.column') must hold image "
                            f"tensors (B, C, H, W) or (B, H, W), got {got}")
        if images.device != self.generator.device:
            images = images.to(self.generator.device)
        return images

    def labels(self, batch: dict[str, Any]) -> Any:
        return None if self.label_column is None else column(batch, self.label_column, self.name)

    @staticmethod
    def indices(batch: dict[str, Any]) -> torch.Tensor | None:
        """(B,) long dataset rows from the batch's ``index`` column, or None."""
        index = batch.get("index")
        return None if index is None else torch.as_tensor(index, dtype=torch.long)


class TwoViewAugment(ImageView):
    """Each image becomes two independently augmented views (random resized crop, flip, colour jitter,
    grayscale, blur, optionally rotation and solarisation), applied batched on tensors and reproducible from
    ``seed``: ViewBatch(query (B, C, S, S), positive (B, C, S, S), labels, indices).

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        label_column: optional label column, passed on as ``labels`` (SupCon, kNN).
        augment: ``AugmentConfig`` fields (size, crop_scale, flip_p, brightness, ..., blur_p, solarize_p).
        augment2: overrides of ``augment`` for the second view (default: none, both views alike). BYOL's
            asymmetric pair (Grill et al. 2020) is ``augment: {blur_p: 1.0}``,
            ``augment2: {blur_p: 0.1, solarize_p: 0.2}``.
        seed, device: injected by the trainer (seed differs per process).
    """

    card_summary = (
        "Two augmented views (SimCLR, Chen et al., 2020): every image becomes two independently augmented views "
        "(random resized crop, flip, colour jitter, grayscale, blur; optionally solarize and rotation, and "
        "different settings for the second view); the two views of an image are positives"
    )
    citation = SIMCLR

    name = "two_view_augment"

    def __init__(
        self,
        column: str = "image",
        label_column: str | None = None,
        augment: dict[str, Any] | None = None,
        augment2: dict[str, Any] | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(column, label_column, seed, device)
        self.augmentation = ImageAugmentation(augment_config(augment))
        self.augmentation2 = ImageAugmentation(augment_config(augment2, "view.augment2", base=augment))

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str = "view") -> None:
        """Config-time check of ``augment`` and ``augment2`` (sizes, probabilities, ranges): ValueError naming the
        key, e.g. ``view.augment.size``."""
        augment = params.get("augment")
        augment_config(augment, f"{key}.augment")
        augment_config(params.get("augment2"), f"{key}.augment2", base=augment)

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = self.images(batch)
        return ViewBatch(
            query=self.augmentation(images, self.generator),
            positive=self.augmentation2(images, self.generator),
            labels=self.labels(batch),
            indices=self.indices(batch),
        )
