"""Zero-shot image classification with prompt templates (Radford et al. 2021, "Learning Transferable Visual
Models From Natural Language Supervision", Sec. 3.1.4): every class name is written into each template
("a photo of a {}."), the text embeddings of a class are L2-normalised and averaged (the prompt ensemble) and
normalised again; an image gets the class whose averaged text embedding is most cosine-similar to its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..data import build_dataset
from ..data.image_text import CLASS_NAMES, DEFAULT_TEMPLATES, check_templates, class_names_of
from .base import Encoder, Evaluator, check_inputs, encode
from .inputs import labelled_split


def class_text_embeddings(model: Encoder, class_names: Sequence[str], templates: Sequence[str],
                          batch_size: int = 256) -> torch.Tensor:
    """(C, D) unit vectors: the normalised mean of each class's normalised prompt embeddings."""
    prompts = [template.format(name) for name in class_names for template in templates]
    embeddings = F.normalize(encode(model, prompts, batch_size, "prompts"), dim=-1)  # (C * T, D)
    per_class = embeddings.reshape(len(class_names), len(templates), -1).mean(dim=1)
    return F.normalize(per_class, dim=-1)


def zero_shot_scores(model: Encoder, images: torch.Tensor, class_names: Sequence[str], templates: Sequence[str],
                     batch_size: int = 256) -> torch.Tensor:
    """(N, C) cosine similarity of each image (N, C, H, W) to each class's averaged prompt embedding."""
    weights = class_text_embeddings(model, class_names, templates, batch_size)
    image_embeddings = F.normalize(encode(model, images, batch_size, "images"), dim=-1)
    return image_embeddings @ weights.T


class ZeroShotEvaluator(Evaluator):
    """Zero-shot accuracy of an image-text model on labelled images; the model must embed images (tensors) and
    texts (lists of strings) into one space, as ``DualEncoderModel.encode`` does.

    Metrics: ``accuracy`` (primary), ``top5_accuracy`` (with more than 5 classes) and ``chance`` (1 / classes,
    printed beside the accuracy).

    Args:
        images: (N, C, H, W) uint8 or float images.
        labels: (N,) class indices into ``class_names``.
        class_names: C names, written into the templates.
        templates: prompt templates with ``{}`` (e.g. ``["a photo of a {}."]``).
    """

    primary = "accuracy"

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``zero_shot``: a labelled image set ``data`` (e.g. ``{name: fashion_mnist,
        split: test}``) and prompt ``templates`` (default: ``DEFAULT_TEMPLATES``) averaged per class;
        ``class_names`` default to the dataset's ``ClassLabel`` names or the known names of the offline sets."""

        data: dict[str, Any]
        class_names: list[str] | None = None
        templates: list[str] | None = None
        image_column: str = "image"
        label_column: str = "label"
        prefix: str = "zero_shot"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The labelled images, class names and checked templates of evaluator ``zero_shot``."""
        s = section
        what = f"zero_shot evaluator '{s.prefix}'"
        images, labels = labelled_split(s.data, what, s.image_column, s.label_column)
        if s.class_names is None and s.data.get("name") not in CLASS_NAMES:
            names = class_names_of(build_dataset(s.data), s.data, s.label_column, None, what)
        else:
            names = class_names_of(None, s.data, s.label_column, s.class_names, what)
        return dict(images=images, labels=labels, class_names=names,
                    templates=check_templates(s.templates or DEFAULT_TEMPLATES, what))

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                 templates: Sequence[str], name: str = "zero_shot", batch_size: int = 256) -> None:
        super().__init__(name, batch_size)
        self.images = check_inputs(images, "zero-shot images")
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"zero-shot labels must have shape ({self.images.shape[0]},), got "
                             f"{tuple(self.labels.shape)}")
        self.class_names = list(check_inputs(list(class_names), "zero-shot class_names", texts_only=True))
        self.templates = list(check_inputs(list(templates), "zero-shot templates", texts_only=True))
        bad = [t for t in self.templates if t.count("{}") != 1]
        if bad:
            raise ValueError(f"zero-shot templates must contain '{{}}' exactly once (the class name): {bad}")
        low, high = int(self.labels.min()), int(self.labels.max())
        if low < 0 or high >= len(self.class_names):
            raise ValueError(f"zero-shot labels lie in [{low}, {high}] but there are {len(self.class_names)} "
                             f"class names")

    def predict(self, model: Encoder) -> torch.Tensor:
        """(N,) predicted class of every image."""
        return zero_shot_scores(model, self.images, self.class_names, self.templates, self.batch_size).argmax(1)

    def __call__(self, model: Encoder) -> dict[str, float]:
        scores = zero_shot_scores(model, self.images, self.class_names, self.templates, self.batch_size)
        metrics = {self.key("accuracy"): float((scores.argmax(1) == self.labels).float().mean())}
        if len(self.class_names) > 5:
            top5 = scores.topk(5, dim=1).indices
            metrics[self.key("top5_accuracy")] = float((top5 == self.labels[:, None]).any(1).float().mean())
        metrics[self.key("chance")] = 1.0 / len(self.class_names)
        return metrics
