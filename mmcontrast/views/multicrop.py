"""Multi-crop views (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", SwAV): two global crops at full resolution plus N small local crops of each image."""

from __future__ import annotations

from typing import Any

import torch

from ..citations import SWAV
from .augment import ImageAugmentation
from .base import CROPS, INDICES, ViewBatch
from .image import ImageView, augment_config


class MultiCrop(ImageView):
    """Each image becomes 2 global crops (random resized crop of area fraction in ``global_scale``, resized to
    ``global_size``) and ``num_local`` local crops (area fraction in ``local_scale``, resized to
    ``local_size``); every crop also gets the flip/colour/blur/solarize ops of ``augment`` (its blur kernel
    follows each crop's size). Returns ViewBatch(query = global crop 1 (B, C, G, G), positive = global crop 2
    (B, C, G, G), crops = [local crop v (B, C, L, L) for v in 1..N], labels, indices).

    Args:
        column: image column (uint8 (B, C, H, W) tensors).
        label_column: optional label column, passed on as ``labels``.
        global_size, global_scale: side and crop-area range of the two global crops (SwAV: 224, (0.14, 1)).
        num_local, local_size, local_scale: number, side and crop-area range of the local crops
            (SwAV: 6, 96, (0.05, 0.14)).
        augment: ``AugmentConfig`` fields other than ``size`` and ``crop_scale`` (set by the keys above).
        augment2: overrides of ``augment`` for the second global crop (DINO-style asymmetry), default none.
        seed, device: injected by the trainer.
    """

    card_summary = (
        "Multi-crop (SwAV, Caron et al., 2020): two global crops and several small local crops of every image; "
        "all crops of an image are positives"
    )
    citation = SWAV

    name = "multi_crop"
    gives = frozenset({INDICES, CROPS})

    def __init__(
        self,
        column: str = "image",
        label_column: str | None = None,
        global_size: int = 224,
        global_scale: tuple[float, float] = (0.14, 1.0),
        num_local: int = 6,
        local_size: int = 96,
        local_scale: tuple[float, float] = (0.05, 0.14),
        augment: dict[str, Any] | None = None,
        augment2: dict[str, Any] | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(column, label_column, seed, device)
        for where, params in (("augment", augment), ("augment2", augment2)):
            for key in ("size", "crop_scale"):
                if key in (params or {}):
                    raise ValueError(f"view 'multi_crop': set global_size/global_scale and local_size/local_scale "
                                     f"instead of 'view.{where}.{key}'")
        if isinstance(num_local, bool) or not isinstance(num_local, int) or num_local < 0:
            raise ValueError(f"view 'multi_crop': 'view.num_local' must be an integer >= 0, got {num_local!r}")
        if not isinstance(global_size, int) or not isinstance(local_size, int) or min(global_size, local_size) < 1:
            raise ValueError(f"view 'multi_crop': 'view.global_size' and 'view.local_size' must be positive "
                             f"integers, got {global_size!r} and {local_size!r}")
        for key, scale in (("global_scale", global_scale), ("local_scale", local_scale)):
            if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
                raise ValueError(f"view 'multi_crop': 'view.{key}' must be (low, high) with 0 < low <= high <= 1, "
                                 f"got {scale!r}")
        base = dict(augment or {})
        glob = {"size": global_size, "crop_scale": global_scale}
        local = {"size": local_size, "crop_scale": local_scale}
        self.global1 = ImageAugmentation(augment_config({**base, **glob}, "view.augment"))
        self.global2 = ImageAugmentation(augment_config({**(augment2 or {}), **glob}, "view.augment2", base=base))
        self.local = ImageAugmentation(augment_config({**base, **local}, "view.augment"))
        self.num_local = num_local

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        images = self.images(batch)
        query = self.global1(images, self.generator)
        positive = self.global2(images, self.generator)
        # one batched call per local crop (a loop over the N crops, not the samples): repeating the full-size
        # images N times to make one call would hold N float copies of them
        crops = [self.local(images, self.generator) for _ in range(self.num_local)] or None
        return ViewBatch(query=query, positive=positive, crops=crops, labels=self.labels(batch),
                         indices=self.indices(batch))
