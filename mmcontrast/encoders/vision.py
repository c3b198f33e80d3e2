"""Vision tower: Hugging Face vision models (ResNet, ViT, ConvNeXt, ...) with their pooled output."""

from __future__ import annotations

import inspect
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
        freeze_patch_embedding: keep the patch projection (``embeddings.patch_embeddings`` of a ViT, DeiT,
            ConvNeXt, ...) fixed at its initial weights: no gradient, no optimizer update, bit-identical
            through training (MoCo v3, Chen et al. 2021, Sec. 5: a random, frozen patch projection removes the
            loss spikes of ViT training). A backbone without a patch embedding (ResNet) is an error naming it.
    """

    card_summary = "a `transformers` vision backbone: images -> pooled features"

    modality = "vision"

    def __init__(
        self,
        model: str | None = None,
        config: dict[str, Any] | None = None,
        image_size: int = 32,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
        config_overrides: dict[str, Any] | None = None,
        freeze_patch_embedding: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = load_backbone(model, config, config_overrides)
        self.freeze_patch_embedding = freeze_patch_embedding
        self._interpolates = "interpolate_pos_encoding" in inspect.signature(self.backbone.forward).parameters
        if freeze_patch_embedding:
            for param in patch_embedding(self.backbone).parameters():
                param.requires_grad_(False)
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
        """Images (N, C, H, W) -> {pixel_values (N, C, S, S)}; then normalised with ``mean``/``std``.

        Grayscale input to an RGB encoder is repeated over 3 channels; RGB input to a grayscale encoder is turned
        into luma (ITU-R 601-2, as PIL's ``convert("L")``). Other sizes are resized unless ``keep_size``: uint8 CPU
        images with PIL's bilinear filter (exactly as the exported image processor), others bilinear antialiased.
        uint8 is scaled to [0, 1]; float input is taken as [0, 1]."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if images.shape[1] != self.num_channels:
            if images.shape[1] == 1:
                images = images.expand(-1, self.num_channels, -1, -1)
            elif images.shape[1] == 3 and self.num_channels == 1:
                luma = torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)
                gray = (images.float() * luma).sum(dim=1, keepdim=True)
                images = gray.round().clamp(0, 255).to(torch.uint8) if images.dtype == torch.uint8 else gray
            else:
                raise ValueError(
                    f"images have {images.shape[1]} channels but the vision encoder expects {self.num_channels}"
                )
        if images.dtype == torch.uint8 and not keep_size and images.device.type == "cpu" \
                and images.shape[-2:] != (self.image_size, self.image_size):
            images = pil_bilinear_resize(images, self.image_size)  # exactly what the exported processor does
        pixels = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if not keep_size and pixels.shape[-2:] != (self.image_size, self.image_size):
            pixels = F.interpolate(
                pixels, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
        mean, std = self.mean.to(pixels.device), self.std.to(pixels.device)
        return {"pixel_values": (pixels - mean[None, :, None, None]) / std[None, :, None, None]}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        pixels = inputs["pixel_values"]
        kwargs = {}
        size = getattr(self.backbone.config, "image_size", None)
        if isinstance(size, int) and tuple(pixels.shape[-2:]) != (size, size) and self._interpolates:
            kwargs["interpolate_pos_encoding"] = True  # a ViT given multi-crop local crops of another size
        out = self.backbone(pixel_values=pixels, **kwargs)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state[:, 0]
        return pooled.flatten(1)


def patch_embedding(backbone: nn.Module) -> nn.Module:
    """The patch projection of a Hugging Face vision backbone: ``embeddings.patch_embeddings`` (ViT, DeiT, BEiT,
    ConvNeXt, Swin, ...; a ViT's holds the (hidden, C, P, P) convolution ``projection``). ValueError naming the
    backbone when it has none (ResNet embeds with a 7x7 convolution and pooling, not patches)."""
    embeddings = getattr(backbone, "embeddings", None)
    module = getattr(embeddings, "patch_embeddings", None)
    if not isinstance(module, nn.Module) or not any(True for _ in module.parameters()):
        model_type = getattr(getattr(backbone, "config", None), "model_type", "?")
        raise ValueError(f"encoder.freeze_patch_embedding: backbone {type(backbone).__name__} (model_type "
                         f"'{model_type}') has no patch embedding (embeddings.patch_embeddings); it applies to "
                         "patch-based backbones such as ViT")
    return module


def pil_bilinear_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images (N, C, H, W) with C in (1, 3) -> uint8 (N, C, size, size) resized by PIL's bilinear filter,
    as the exported image processor (``resample=2``) resizes them, so that evaluation before export and
    ``AutoImageProcessor`` + ``AutoModel`` after export see the same pixels (PIL rounds to uint8 in fixed point,
    which no torch interpolation reproduces)."""
    import numpy as np
    from PIL import Image

    channels = images.shape[1]
    if channels not in (1, 3):
        raise ValueError(f"uint8 images must have 1 or 3 channels, got {channels}")
    out = np.empty((images.shape[0], size, size, channels), dtype=np.uint8)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        pil = Image.fromarray(image[:, :, 0] if channels == 1 else image, mode="L" if channels == 1 else "RGB")
        resized = np.asarray(pil.resize((size, size), Image.BILINEAR))
        out[i] = resized[:, :, None] if channels == 1 else resized
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _channel_vector(values: Sequence[float], channels: int, what: str) -> torch.Tensor:
    values = list(values) if isinstance(values, (list, tuple)) else [float(values)]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"encoder.{what} has {len(values)} values for {channels} image channels")
    return torch.tensor(values, dtype=torch.float32)
