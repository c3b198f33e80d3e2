"""Evaluators built from config values (file paths, dataset components) for the ``EVALUATORS`` registry."""

from __future__ import annotations

from typing import Any

import torch

from ..data import build_dataset


def sts(path: str, prefix: str = "sts", batch_size: int = 128) -> Any:
    """Spearman correlation of cosine similarity with gold scores on an STS Benchmark file."""
    from .sts import STSEvaluator, load_sts_csv

    s1, s2, scores = load_sts_csv(path)
    return STSEvaluator(s1, s2, scores, name=prefix, batch_size=batch_size)


def sts_hf(
    path: str = "sentence-transformers/stsb", split: str = "validation", prefix: str = "sts",
    sentence1: str = "sentence1", sentence2: str = "sentence2", score: str = "score", batch_size: int = 128,
) -> Any:
    """STS Spearman on a Hub dataset with sentence-pair and score columns (default: STS-B validation)."""
    from .sts import STSEvaluator

    dataset = build_dataset({"name": "hf", "path": path, "split": split})
    missing = [c for c in (sentence1, sentence2, score) if c not in dataset.column_names]
    if missing:
        raise KeyError(f"sts_hf '{path}': column(s) {missing} not found; columns: {', '.join(dataset.column_names)}")
    return STSEvaluator(list(dataset[sentence1]), list(dataset[sentence2]), [float(x) for x in dataset[score]],
                        name=prefix, batch_size=batch_size)


def _images_and_labels(component: dict[str, Any], key: str, image_column: str, label_column: str) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = build_dataset(component)
    if hasattr(dataset, "images") and dataset.labels is not None:
        return dataset.images, dataset.labels
    rows = [dataset[i] for i in range(len(dataset))]
    missing = [c for c in (image_column, label_column) if c not in rows[0]]
    if missing:
        raise KeyError(f"knn evaluator '{key}' data: column(s) {missing} not found; columns: {', '.join(rows[0])}")
    return torch.stack([r[image_column] for r in rows]), torch.tensor([int(r[label_column]) for r in rows])


def knn(
    train: dict[str, Any],
    test: dict[str, Any],
    k: int = 200,
    temperature: float = 0.1,
    prefix: str = "knn",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """Weighted kNN accuracy on frozen features: ``train`` is the labelled memory, ``test`` the queries
    (both dataset components, e.g. ``{name: sklearn_digits, split: test}``)."""
    from .knn import KNNEvaluator

    train_images, train_labels = _images_and_labels(train, "train", image_column, label_column)
    test_images, test_labels = _images_and_labels(test, "test", image_column, label_column)
    return KNNEvaluator(train_images, train_labels, test_images, test_labels, k=k, temperature=temperature,
                        name=prefix, batch_size=batch_size)


def alignment_uniformity_sts(
    path: str, min_score: float = 4.0, prefix: str = "align_uniform", batch_size: int = 128
) -> Any:
    """Wang & Isola (2020) on text: alignment over STS pairs scored >= ``min_score`` (as in the SimCSE paper),
    uniformity over all sentences of the file."""
    from .alignment import AlignmentUniformityEvaluator
    from .sts import load_sts_csv

    s1, s2, scores = load_sts_csv(path)
    pairs = [(a, b) for a, b, s in zip(s1, s2, scores) if s >= min_score]
    if not pairs:
        raise ValueError(f"{path}: no pair has a score >= {min_score}")
    return AlignmentUniformityEvaluator(
        [a for a, _ in pairs], [b for _, b in pairs], uniform_inputs=sorted(set(s1) | set(s2)),
        name=prefix, batch_size=batch_size,
    )


def alignment_uniformity_views(
    data: dict[str, Any], augment: dict[str, Any] | None = None, limit: int = 2000, seed: int = 0,
    image_column: str = "image", prefix: str = "align_uniform", batch_size: int = 256,
) -> Any:
    """Wang & Isola (2020) on images: alignment between two augmented views of the same image (fixed seed),
    uniformity over the clean images."""
    from .alignment import AlignmentUniformityEvaluator
    from ..views.image import augment_config
    from ..views.augment import ImageAugmentation

    dataset = build_dataset(data)
    images = dataset.images if hasattr(dataset, "images") else torch.stack(
        [dataset[i][image_column] for i in range(min(limit, len(dataset)))]
    )
    images = images[:limit]
    augmentation = ImageAugmentation(augment_config(augment, "evaluators.augment"))
    generator = torch.Generator().manual_seed(seed)
    view1, view2 = augmentation(images, generator), augmentation(images, generator)
    return AlignmentUniformityEvaluator(view1, view2, uniform_inputs=images, name=prefix, batch_size=batch_size)
