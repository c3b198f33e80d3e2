"""Probing intermediate layers: kNN and linear-probe accuracy of the features of every named stage of a vision
backbone, and a picture of its first-layer filters.

Which layer holds the most linearly separable features depends on the pretext task: Kolesnikov et al. 2019
("Revisiting Self-Supervised Visual Representation Learning") and Goyal et al. 2019 (the "res2..res5"
ablation of the self-supervised benchmark) probe every stage of a ResNet; Zhang et al. 2016 the conv layers of
AlexNet. Stages come from the Hugging Face backbone's ``output_hidden_states``: a conv net's feature maps
(N, C, H, W) are globally average-pooled; a ViT's tokens (N, T, H) give their CLS token or the mean of the
patch tokens. Filters of the first convolution (a ResNet's stem, a ViT's patch projection) are drawn as a
PNG grid, the qualitative figure of Krizhevsky et al. 2012 (Fig. 3) and Dosovitskiy et al. 2021 (Fig. 7).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .base import Evaluator, Inputs, check_inputs, num_inputs
from .knn import weighted_knn_predict
from .inputs import LabelledSection, labelled_inputs
from .linear_probe import check_labels, linear_probe_accuracy
from .probe import ProbeSettings

POOLINGS = ("cls", "mean")


def _backbone(model: Any) -> nn.Module:
    """The HF vision backbone of a ``ContrastiveModel`` (or of a ``VisionEncoder``); TypeError otherwise."""
    encoder = getattr(model, "encoder", model)
    backbone = getattr(encoder, "backbone", None)
    if getattr(encoder, "modality", None) != "vision" or not isinstance(backbone, nn.Module):
        raise TypeError(f"layer probing needs a vision model (ContrastiveModel with a 'vision' encoder), got "
                        f"{type(model).__name__}")
    return backbone


def stage_names(hidden_states: Sequence[torch.Tensor]) -> list[str]:
    """Names of a backbone's hidden states: conv nets (4-D maps) ``stem, stage1, ..., stageS`` (a ResNet's
    stage1..stage4 are the survey's res2..res5); transformers (3-D tokens) ``embeddings, block1, ..., blockL``."""
    if hidden_states[0].dim() == 4:
        return ["stem"] + [f"stage{i}" for i in range(1, len(hidden_states))]
    return ["embeddings"] + [f"block{i}" for i in range(1, len(hidden_states))]


def pool_stage(hidden: torch.Tensor, pooling: str = "cls") -> torch.Tensor:
    """One hidden state -> (N, D) features: (N, C, H, W) maps are averaged over H, W; (N, T, H) tokens give the
    first (CLS) token with ``pooling='cls'`` or the mean of the other tokens with ``'mean'``."""
    if hidden.dim() == 4:
        return hidden.float().mean(dim=(2, 3))
    if hidden.dim() == 3:
        if pooling == "cls":
            return hidden[:, 0].float()
        return (hidden[:, 1:] if hidden.shape[1] > 1 else hidden).float().mean(dim=1)
    raise ValueError(f"cannot pool a hidden state of shape {tuple(hidden.shape)}: expected (N, C, H, W) or (N, T, H)")


@torch.inference_mode()
def stage_features(model: Any, images: torch.Tensor, stages: Sequence[str] | None = None, pooling: str = "cls",
                   batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Pooled features of the named stages of ``model``'s vision backbone in eval mode.

    Args:
        model: a ``ContrastiveModel`` with a ``vision`` encoder (its ``prepare`` resizes and normalises).
        images: (N, C, H, W) uint8 or float in [0, 1].
        stages: names from ``stage_names`` (default: all); an unknown name is a ValueError listing the valid ones.
        pooling: ``cls`` or ``mean`` for token stages (conv stages are always average-pooled).

    Returns:
        {stage: (N, D_stage) float32 CPU}, in the backbone's order.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    backbone = _backbone(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chosen: list[str] | None = None
    out: dict[str, list[torch.Tensor]] = {}
    try:
        for start in range(0, images.shape[0], batch_size):
            inputs = model.prepare(images[start : start + batch_size])
            hidden = backbone(pixel_values=inputs["pixel_values"].to(device), output_hidden_states=True).hidden_states
            names = stage_names(hidden)
            if chosen is None:
                chosen = list(names) if stages is None else list(stages)
                unknown = [s for s in chosen if s not in names]
                if unknown:
                    raise ValueError(f"unknown stage(s) {unknown} of {type(backbone).__name__}; stages: "
                                     f"{', '.join(names)}")
                out = {s: [] for s in chosen}
            by_name = dict(zip(names, hidden))
            for name in chosen:
                out[name].append(pool_stage(by_name[name], pooling).cpu())
    finally:
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in out.items()}


class LayerProbeEvaluator(Evaluator):
    """kNN and linear-probe accuracy of each named stage's pooled features (``stage_features``), from one
    encoding of each split: ``{f"{name}/{stage}/knn_accuracy", f"{name}/{stage}/linear_accuracy"}`` for every
    stage; the primary metric is the kNN accuracy of the last requested stage. With ``filters_path`` it also
    draws the first convolution's filters (``save_filter_grid``) at every call.

    ``train_inputs`` / ``test_inputs``: images (N, C, H, W) with labels (N,); ``probe``: the kNN and linear-probe
    settings of ``ProbeSettings``.
    """

    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(ProbeSettings, LabelledSection):
        """Config keys of evaluator ``layer_probe``: ``stages`` (ResNet ``stem``, ``stage1``..; ViT
        ``embeddings``, ``block1``..; null: all) pooled by ``cls`` or ``mean`` (token stages), the probe settings of
        ``ProbeSettings``; ``filters_path``: a PNG grid of the first convolution's filters (at most
        ``max_filters``)."""

        stages: list[str] | None = None
        pooling: str = "cls"
        filters_path: str | None = None
        max_filters: int = 64
        prefix: str = "layer_probe"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The checked ``probe`` settings of evaluator ``layer_probe`` and its labelled splits."""
        return {"probe": ProbeSettings.linear_of(section, "layer_probe"), **labelled_inputs(section, "layer_probe")}

    def __init__(self, train_inputs: Inputs, train_labels: Sequence[int] | torch.Tensor, test_inputs: Inputs,
                 test_labels: Sequence[int] | torch.Tensor, stages: Sequence[str] | None = None,
                 pooling: str = "cls", probe: ProbeSettings | None = None, filters_path: str | None = None,
                 max_filters: int = 64, name: str = "layer_probe", batch_size: int = 256) -> None:
        super().__init__(name, batch_size)
        owner = type(self).__name__
        self.train_inputs = check_inputs(train_inputs, f"{owner} train_inputs")
        self.test_inputs = check_inputs(test_inputs, f"{owner} test_inputs")
        if not isinstance(self.train_inputs, torch.Tensor) or not isinstance(self.test_inputs, torch.Tensor):
            raise TypeError(f"{owner}: layer probing takes images (N, C, H, W), not texts")
        self.train_labels = check_labels(train_labels, num_inputs(self.train_inputs), f"{owner}: train_labels")
        self.test_labels = check_labels(test_labels, num_inputs(self.test_inputs), f"{owner}: test_labels")
        if pooling not in POOLINGS:
            raise ValueError(f"{owner}: pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if stages is not None and (isinstance(stages, str) or not stages):
            raise ValueError(f"{owner}: stages must be a non-empty list of stage names (or null: all), got {stages!r}")
        self.probe = probe if probe is not None else ProbeSettings()
        self.probe.check_knn(owner)
        self.probe.check_linear(owner)
        self.stages = list(stages) if stages is not None else None
        self.pooling = pooling
        self.num_classes = 1 + max(int(self.train_labels.max()), int(self.test_labels.max()))
        self.filters_path = filters_path
        self.max_filters = max_filters
        self.primary = f"{self.stages[-1]}/knn_accuracy" if self.stages else "knn_accuracy"

    def __call__(self, model: Any) -> dict[str, float]:
        train = stage_features(model, self.train_inputs, self.stages, self.pooling, self.batch_size)  # type: ignore
        test = stage_features(model, self.test_inputs, self.stages, self.pooling, self.batch_size)  # type: ignore
        if self.stages is None:  # all stages: the primary metric is the deepest one's
            self.primary = f"{list(train)[-1]}/knn_accuracy"
        result: dict[str, float] = {}
        for stage in train:
            tr, te = train[stage], test[stage]
            if not (bool(torch.isfinite(tr).all()) and bool(torch.isfinite(te).all())):
                result[self.key(f"{stage}/knn_accuracy")] = result[self.key(f"{stage}/linear_accuracy")] = math.nan
                continue
            predicted = weighted_knn_predict(tr, self.train_labels, te, self.num_classes, self.probe.k,
                                             self.probe.temperature)
            result[self.key(f"{stage}/knn_accuracy")] = float((predicted == self.test_labels).float().mean())
            result[self.key(f"{stage}/linear_accuracy")] = linear_probe_accuracy(
                tr, self.train_labels, te, self.test_labels, self.num_classes, **self.probe.linear_args())
        if self.filters_path is not None:
            save_filter_grid(model, self.filters_path, self.max_filters)
        return result


def first_conv(model: Any) -> nn.Conv2d:
    """The first ``Conv2d`` of the backbone in module order: a ResNet's stem convolution, a ViT's patch
    projection, a ConvNeXt's patchify layer. ValueError naming the backbone when it has none."""
    backbone = _backbone(model)
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError(f"{type(backbone).__name__} has no Conv2d layer whose filters could be drawn")


def filter_grid_shape(num_filters: int) -> tuple[int, int]:
    """(rows, columns) of the filter grid: ``ceil(sqrt(n))`` columns, as many rows as needed."""
    columns = max(1, math.ceil(math.sqrt(num_filters)))
    return math.ceil(num_filters / columns), columns


def filter_grid_size(num_filters: int, cell_size: int = 32, pad: int = 2) -> tuple[int, int]:
    """(width, height) in pixels of ``save_filter_grid``'s PNG: square tiles of ``cell_size``, ``pad`` apart
    and from the edges."""
    rows, columns = filter_grid_shape(num_filters)
    return columns * (cell_size + pad) + pad, rows * (cell_size + pad) + pad


def filter_images(weight: torch.Tensor) -> np.ndarray:
    """Conv weights (O, C, kh, kw) -> uint8 RGB tiles (O, kh, kw, 3): each filter min-max scaled to [0, 255] on
    its own; 3 input channels are drawn as RGB, 1 as gray, any other number as the gray mean over channels."""
    w = weight.detach().float().cpu()
    if w.shape[1] != 3:
        w = w.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    low = w.amin(dim=(1, 2, 3), keepdim=True)
    high = w.amax(dim=(1, 2, 3), keepdim=True)
    scaled = (w - low) / (high - low).clamp_min(1e-12)
    return (scaled * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_filter_grid(model: Any, path: str | os.PathLike[str], max_filters: int = 64, cell_size: int = 32,
                     pad: int = 2) -> int:
    """Draw the first ``max_filters`` filters of the first convolution (``first_conv``) as a PNG grid (nearest-
    neighbour enlarged to ``cell_size`` pixels, on a mid-gray background). Returns the number of tiles."""
    from PIL import Image

    if max_filters < 1:
        raise ValueError(f"max_filters must be >= 1, got {max_filters}")
    conv = first_conv(model)
    tiles = filter_images(conv.weight[:max_filters])
    rows, columns = filter_grid_shape(len(tiles))
    width, height = filter_grid_size(len(tiles), cell_size, pad)
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        image = Image.fromarray(np.ascontiguousarray(tile)).resize((cell_size, cell_size), Image.NEAREST)
        canvas.paste(image, (pad + c * (cell_size + pad), pad + r * (cell_size + pad)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return len(tiles)
