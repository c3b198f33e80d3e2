"""Vision tower: Hugging Face vision models (ResNet, ViT, ConvNeXt, ...) with their pooled output."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .loading import load_backbone


class VisionEncoder(nn.Module):
    """``AutoModel`` vision backbone: images -> (N, H) pooled features.

    Args:
        model: Hub id or local folder with pretrained weights (e.g. ``microsoft/resnet-18``).
        config: instead, a transformers config mapping for a random-init backbone, e.g.
            ``{model_type: resnet, num_channels: 1, hidden_sizes: [32, 64, 128, 256], depths: [1, 1, 1, 1],
            embedding_size: 32, layer_type: basic}``.
        image_size: side the images are resized to before the backbone.
        mean, std: per-channel normalisation (one value per channel, or one for all).
        config_overrides: transformers config attributes to change.
    """

    modality = "vision"

    def __init__(
        self,
        model: str | None = None,
        config: dict[str, Any] | None = None,
        image_size: int = 32,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = load_backbone(model, config, config_overrides)
        self.image_size = image_size
        self.num_channels = int(getattr(self.backbone.config, "num_channels", 3))
        self.register_buffer("mean", _channel_vector(mean, self.num_channels, "mean"), persistent=False)
        self.register_buffer("std", _channel_vector(std, self.num_channels, "std"), persistent=False)

    @property
    def embedding_dim(self) -> int:
        cfg = self.backbone.config
        if getattr(cfg, "hidden_sizes", None):
            return int(cfg.hidden_sizes[-1])
        return int(cfg.hidden_size)

    def prepare(self, images: torch.Tensor, keep_size: bool = False) -> dict[str, torch.Tensor]:
        """Images (N, C, H, W) -> {pixel_values (N, C, S, S)}: uint8 is scaled to [0, 1]; other sizes are resized
        (bilinear, antialiased) unless ``keep_size``; then normalised with ``mean``/``std``. Float input is taken
        as [0, 1]."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if images.shape[1] != self.num_channels:
            if images.shape[1] == 1:
                images = images.expand(-1, self.num_channels, -1, -1)
            else:
                raise ValueError(
                    f"images have {images.shape[1]} channels but the vision encoder expects {self.num_channels}"
                )
        pixels = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if not keep_size and pixels.shape[-2:] != (self.image_size, self.image_size):
            pixels = F.interpolate(
                pixels, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
        mean, std = self.mean.to(pixels.device), self.std.to(pixels.device)
        return {"pixel_values": (pixels - mean[None, :, None, None]) / std[None, :, None, None]}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.backbone(pixel_values=inputs["pixel_values"])
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state[:, 0]
        return pooled.flatten(1)


def _channel_vector(values: Sequence[float], channels: int, what: str) -> torch.Tensor:
    values = list(values) if isinstance(values, (list, tuple)) else [float(values)]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"encoder.{what} has {len(values)} values for {channels} image channels")
    return torch.tensor(values, dtype=torch.float32)
