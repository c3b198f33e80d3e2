"""Vision export: the backbone (``AutoModel.from_pretrained(folder)``) and an image processor beside it
(``AutoImageProcessor.from_pretrained(folder)``) that reproduces ``VisionEncoder.prepare``: resize to
``image_size`` (bilinear), rescale by 1/255, normalise with the encoder's ``mean``/``std``.

Features are ``AutoModel(**processor(images))`` -> ``pooler_output.flatten(1)`` (or the first token's state
for models without a pooled output), exactly what ``ContrastiveModel.encode`` returns for uint8 images that
already have side ``image_size``. Resizing differs slightly (PIL bilinear on uint8 in the processor, antialiased
bilinear on floats in mmcontrast), so features of images of another size agree only approximately.

1-channel (grayscale) encoders get a processor that keeps one channel (``do_convert_rgb=False``): feed PIL
``"L"`` images, (H, W, 1) uint8 arrays or (1, H, W) uint8 tensors (transformers rejects bare (H, W) arrays).
3-channel encoders convert PIL inputs to RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .text import _write_dense, eval_head_dense

HEAD_FOLDER = "head"


def build_image_processor(encoder: Any) -> Any:
    """A ``ViTImageProcessor`` (PIL backend when transformers has one) matching ``encoder.prepare``."""
    import transformers
    from transformers.image_utils import PILImageResampling

    cls = getattr(transformers, "ViTImageProcessorPil", None) or transformers.ViTImageProcessor
    size = int(encoder.image_size)
    return cls(
        do_resize=True,
        size={"height": size, "width": size},
        resample=PILImageResampling.BILINEAR,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=_shortest(encoder.mean),
        image_std=_shortest(encoder.std),
        do_convert_rgb=int(encoder.num_channels) == 3,
    )


def _shortest(values: Any) -> list[float]:
    """float32 values as the shortest decimals that round-trip (0.3, not 0.30000001192092896)."""
    import numpy as np

    return [float(str(np.float32(v))) for v in values.detach().cpu().float().numpy()]


def save_vision_encoder(model: Any, path: str | Path) -> Path:
    """Write ``model`` (a vision ``ContrastiveModel``) as ``AutoModel`` + ``AutoImageProcessor`` folder.

    A head kept at evaluation (``train_only: false``) made of one Linear (+ activation) is saved in ``head/``
    (config.json + model.safetensors with ``linear.weight``/``linear.bias``, the Sentence-Transformers Dense
    format); any other evaluation-time head raises ValueError.
    """
    encoder = model.encoder
    if getattr(encoder, "modality", None) != "vision":
        raise TypeError(
            f"save_vision_encoder needs a vision model, got modality '{getattr(encoder, 'modality', None)}'"
        )
    head = eval_head_dense(model.head)  # validate before writing anything
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    encoder.backbone.save_pretrained(str(path), safe_serialization=True)
    build_image_processor(encoder).save_pretrained(str(path))
    if head is not None:
        _write_dense(path / HEAD_FOLDER, head["linear"], head["activation_function"])
    return path
