"""Image-text export: a ``transformers.VisionTextDualEncoderModel`` folder with its processor.

Layout::

    config.json, model.safetensors     VisionTextDualEncoderModel (vision_model, text_model, visual_projection,
                                       text_projection, logit_scale): ``AutoModel.from_pretrained(folder)``
    preprocessor / tokenizer files     VisionTextDualEncoderProcessor: ``AutoProcessor.from_pretrained(folder)``;
                                       the image processor resizes exactly as mmcontrast (PIL bilinear)

``get_image_features(**processor(images=...)).pooler_output`` and ``get_text_features(**processor(text=...))``
``.pooler_output`` equal ``DualEncoderModel.encode`` (projected, not normalised), and the folder works with
``pipeline("zero-shot-image-classification", model=folder)``.

``VisionTextDualEncoderModel`` projects the towers' ``pooler_output`` as they are: the text tower must pool with
its model's pooler (``pooling: cls`` on a model with one, e.g. BERT) and the vision model's pooled output must be
(N, hidden) (ViT, ConvNeXt, Swin, ...; ResNet's is (N, C, 1, 1)). A vision model without ``hidden_size`` in its
config (ConvNeXt: ``hidden_sizes``) gets it added. A SigLIP run's learned bias is not part of this format (the
pipeline ranks labels by softmax over the scaled similarities, which the bias does not change).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from .text import _scrub_local_paths
from .vision import build_image_processor


def export_problems(model: Any) -> list[str]:
    """Why ``model`` (a ``DualEncoderModel``) cannot be written as a ``VisionTextDualEncoderModel`` that the
    zero-shot pipeline runs; empty when it can."""
    problems = []
    text = model.text.encoder
    if text.pooling != "cls" or getattr(text.backbone, "pooler", None) is None:
        problems.append(
            f"the text tower pools with '{text.pooling}', but VisionTextDualEncoderModel projects the text model's "
            "pooler_output (use encoder.text.pooling: cls on a text model with a pooler layer, e.g. BERT or MiniLM)")
    vision = model.vision.encoder
    if vision.num_channels != 3:
        problems.append(f"the vision model has {vision.num_channels} input channel(s), but pipelines convert every "
                        "image to RGB (set num_channels: 3 in the vision config: grey images are repeated over the "
                        "three channels)")
    shape = _pooled_shape(vision)
    if shape is None or len(shape) != 2:
        problems.append(
            f"the vision model ({type(vision.backbone).__name__}) has a pooled output of shape "
            f"{'none' if shape is None else tuple(shape)}, but VisionTextDualEncoderModel projects pooler_output as "
            "it is and needs (N, hidden) (ViT, ConvNeXt, Swin, ... have it; ResNet's is (N, C, 1, 1))")
    return problems


def _pooled_shape(vision: Any) -> tuple[int, ...] | None:
    """The shape of the vision backbone's ``pooler_output`` for one image (None when it has none)."""
    backbone = vision.backbone
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            device = next(backbone.parameters()).device
            pixels = torch.zeros(1, vision.num_channels, vision.image_size, vision.image_size, device=device)
            pooled = getattr(backbone(pixel_values=pixels), "pooler_output", None)
    finally:
        backbone.train(was_training)
    return None if pooled is None else tuple(pooled.shape)


def to_transformers(model: Any) -> Any:
    """A ``VisionTextDualEncoderModel`` holding ``model``'s weights (float32, CPU) and its clamped logit scale."""
    from transformers import VisionTextDualEncoderConfig, VisionTextDualEncoderModel

    problems = export_problems(model)
    if problems:
        raise ValueError("cannot export this dual encoder as a VisionTextDualEncoderModel: " + "; ".join(problems))
    vision, text = model.vision, model.text
    vision_config = copy.deepcopy(vision.encoder.backbone.config)
    if not hasattr(vision_config, "hidden_size"):  # ConvNeXt, Swin v2, ... name it hidden_sizes[-1]
        vision_config.hidden_size = int(vision.encoder.embedding_dim)
    config = VisionTextDualEncoderConfig.from_vision_text_configs(
        vision_config, copy.deepcopy(text.encoder.backbone.config),
        projection_dim=int(model.train_dim), logit_scale_init_value=float(_log_scale(model)),
    )
    hf = VisionTextDualEncoderModel(config).eval()
    with torch.no_grad():
        hf.vision_model.load_state_dict(_cpu_state(vision.encoder.backbone), strict=True)
        hf.text_model.load_state_dict(_cpu_state(text.encoder.backbone), strict=True)
        hf.visual_projection.weight.copy_(vision.head.linear.weight.detach().float().cpu())
        hf.text_projection.weight.copy_(text.head.linear.weight.detach().float().cpu())
        hf.logit_scale.fill_(_log_scale(model))
    return hf


def _log_scale(model: Any) -> float:
    """log of the scale the model uses: the parameter clamped to log(max_logit_scale)."""
    temperature = model.temperature
    return float(temperature.log_scale.detach().clamp(max=temperature.max_log_scale).cpu())


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
            for k, v in module.state_dict().items()}


def build_processor(model: Any) -> Any:
    """``VisionTextDualEncoderProcessor``: the image processor that matches the vision tower's ``prepare`` and the
    text tower's tokenizer."""
    from transformers import VisionTextDualEncoderProcessor

    return VisionTextDualEncoderProcessor(image_processor=build_image_processor(model.vision.encoder),
                                          tokenizer=model.text.encoder.tokenizer)


def save_dual_encoder(model: Any, path: str | Path) -> Path:
    """Write ``model`` (a ``DualEncoderModel``) as a ``VisionTextDualEncoderModel`` + processor folder."""
    if getattr(model, "modality", None) != "image_text":
        raise TypeError(f"save_dual_encoder needs an image-text dual encoder, got modality "
                        f"'{getattr(model, 'modality', None)}'")
    hf = to_transformers(model)  # checks before anything is written
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(str(path), safe_serialization=True)
    build_processor(model).save_pretrained(str(path))
    _scrub_local_paths(path)
    _scrub_sub_configs(path / "config.json")
    return path


def _scrub_sub_configs(file: Path) -> None:
    """Drop machine-local ``_name_or_path`` entries inside ``vision_config`` / ``text_config``."""
    data = json.loads(file.read_text(encoding="utf-8"))
    changed = False
    for key in ("vision_config", "text_config"):
        sub = data.get(key)
        value = sub.get("_name_or_path") if isinstance(sub, dict) else None
        if isinstance(value, str) and (Path(value).is_absolute() or value.startswith(("~", "."))):
            sub.pop("_name_or_path")
            changed = True
    if changed:
        file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
