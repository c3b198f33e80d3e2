"""Alignment and uniformity of embeddings on the unit hypersphere.

Wang & Isola 2020, "Understanding Contrastive Representation Learning through Alignment and Uniformity on
the Hypersphere" (ICML): alignment is the expected distance between the embeddings of positive pairs,
uniformity the log of the average Gaussian potential between all embeddings. Lower is better for both;
SimCSE (Gao et al. 2021) reports them on STS-B pairs with a score >= 4. The two measures are the training
objective's own functions (``objectives.align_uniform``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data import build_dataset
from ..objectives.align_uniform import alignment, uniformity
from ..views.augment import ImageAugmentation
from ..views.image import augment_config
from .base import Encoder, Evaluator, Inputs, check_inputs, encode, encode_unique_texts, num_inputs
from .sts import load_sts_csv


class AlignmentUniformityEvaluator(Evaluator):
    """Wang & Isola (2020) alignment (alpha=2, primary) and uniformity (t=2) of an encoder's embeddings.

    ``pairs_a[i]`` and ``pairs_b[i]`` are a positive pair (texts, or images (N, C, H, W): e.g. two augmented
    views). Uniformity is measured on ``uniform_inputs`` (texts or images); when None, on the distinct
    texts of both sides, or for images on the embeddings of both sides together. Returns
    ``{f"{name}/alignment": ..., f"{name}/uniformity": ...}``; lower is better for both.
    Texts are deduplicated and encoded once across all three inputs.
    """

    primary = "alignment"
    higher_is_better = False

    def __init__(self, pairs_a: Inputs, pairs_b: Inputs, uniform_inputs: Inputs | None = None,
                 name: str = "align_uniform", batch_size: int = 128) -> None:
        super().__init__(name, batch_size)
        self.pairs_a = check_inputs(pairs_a, f"{type(self).__name__} pairs_a")
        self.pairs_b = check_inputs(pairs_b, f"{type(self).__name__} pairs_b")
        if num_inputs(self.pairs_a) != num_inputs(self.pairs_b):
            raise ValueError(f"{type(self).__name__}: pairs_a and pairs_b must have the same length, got "
                             f"{num_inputs(self.pairs_a)} and {num_inputs(self.pairs_b)}")
        self.uniform_inputs = (None if uniform_inputs is None
                               else check_inputs(uniform_inputs, f"{type(self).__name__} uniform_inputs"))
        if self.uniform_inputs is not None:
            n_uniform = num_inputs(self.uniform_inputs)
        elif isinstance(self.pairs_a, torch.Tensor) or isinstance(self.pairs_b, torch.Tensor):
            n_uniform = 2 * num_inputs(self.pairs_a)
        else:
            n_uniform = len(self._texts(self.pairs_a, self.pairs_b))
        if n_uniform < 2:
            raise ValueError(f"{type(self).__name__}: uniformity needs at least 2 distinct inputs, got {n_uniform}")

    @staticmethod
    def _texts(*groups: Inputs | None) -> dict[str, None]:
        """Distinct texts (in order of first occurrence) of the text groups among ``groups``."""
        return dict.fromkeys(s for g in groups if g is not None and not isinstance(g, torch.Tensor) for s in g)

    def __call__(self, model: Encoder) -> dict[str, float]:
        texts = list(self._texts(self.pairs_a, self.pairs_b, self.uniform_inputs))
        text_emb, row_of = (encode_unique_texts(model, texts, self.batch_size, "align_uniform texts")
                            if texts else (None, {}))

        def embed(inputs: Inputs, what: str) -> torch.Tensor:
            if isinstance(inputs, torch.Tensor):
                return encode(model, inputs, self.batch_size, what)
            assert text_emb is not None
            return text_emb[torch.tensor([row_of[s] for s in inputs], dtype=torch.long)]

        a = embed(self.pairs_a, "align_uniform pairs_a")
        b = embed(self.pairs_b, "align_uniform pairs_b")
        if self.uniform_inputs is not None:
            u = embed(self.uniform_inputs, "align_uniform uniform_inputs")
        elif isinstance(self.pairs_a, torch.Tensor) or isinstance(self.pairs_b, torch.Tensor):
            u = torch.cat([a, b])
        else:
            u = embed(list(self._texts(self.pairs_a, self.pairs_b)), "align_uniform texts")
        return {
            self.key("alignment"): float(alignment(a, b, alpha=2)),
            self.key("uniformity"): float(uniformity(u, t=2)),
        }


class STSAlignmentEvaluator(AlignmentUniformityEvaluator):
    """Wang & Isola (2020) on text: alignment over STS pairs scored >= ``min_score`` (as in the SimCSE paper),
    uniformity over all sentences of the file."""

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``alignment_uniformity_sts``: an STS Benchmark file (``path``)."""

        path: str
        min_score: float = 4.0
        prefix: str = "align_uniform"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The pairs of the STS file scored >= ``min_score`` and all its sentences (evaluator
        ``alignment_uniformity_sts``)."""
        s1, s2, scores = load_sts_csv(section.path)
        pairs = [(a, b) for a, b, score in zip(s1, s2, scores) if score >= section.min_score]
        if not pairs:
            raise ValueError(f"{section.path}: no pair has a score >= {section.min_score}")
        return dict(pairs_a=[a for a, _ in pairs], pairs_b=[b for _, b in pairs],
                    uniform_inputs=sorted(set(s1) | set(s2)))


class ViewAlignmentEvaluator(AlignmentUniformityEvaluator):
    """Wang & Isola (2020) on images: alignment between two augmented views of the same image (fixed seed),
    uniformity over the clean images."""

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``alignment_uniformity_views``: the first ``limit`` images of ``data`` (a
        dataset component), augmented by ``augment`` (the keys of ``AugmentConfig``) with a fixed ``seed``."""

        data: dict[str, Any]
        augment: dict[str, Any] | None = None
        limit: int = 2000
        seed: int = 0
        image_column: str = "image"
        prefix: str = "align_uniform"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """Two seeded augmented views of the first ``limit`` images and the clean images (evaluator
        ``alignment_uniformity_views``)."""
        s = section
        dataset = build_dataset(s.data)
        images = dataset.images if hasattr(dataset, "images") else torch.stack(
            [dataset[i][s.image_column] for i in range(min(s.limit, len(dataset)))]
        )
        images = images[: s.limit]
        augmentation = ImageAugmentation(augment_config(s.augment, "evaluators.augment"))
        generator = torch.Generator().manual_seed(s.seed)
        view1, view2 = augmentation(images, generator), augmentation(images, generator)
        return dict(pairs_a=view1, pairs_b=view2, uniform_inputs=images)
