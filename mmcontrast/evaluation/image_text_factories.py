"""Image-text evaluators built from config values (dataset components): zero-shot classification and
image <-> text retrieval."""

from __future__ import annotations

from typing import Any

import torch

from ..data import DataError, build_dataset
from ..data.image_text import CLASS_NAMES, DEFAULT_TEMPLATES, check_templates, class_names_of
from .factories import labelled_images


def zero_shot(
    data: dict[str, Any],
    class_names: list[str] | None = None,
    templates: list[str] | None = None,
    image_column: str = "image",
    label_column: str = "label",
    prefix: str = "zero_shot",
    batch_size: int = 256,
) -> Any:
    """Zero-shot accuracy on a labelled image set (e.g. ``{name: fashion_mnist, split: test}``) with prompt
    ``templates`` (default: ``DEFAULT_TEMPLATES``) averaged per class; ``class_names`` default to the dataset's
    ``ClassLabel`` names or the known names of the offline sets."""
    from .zero_shot import ZeroShotEvaluator

    what = f"zero_shot evaluator '{prefix}'"
    images, labels = labelled_images(data, what, image_column, label_column)
    if class_names is None and data.get("name") not in CLASS_NAMES:
        names = class_names_of(build_dataset(data), data, label_column, None, what)
    else:
        names = class_names_of(None, data, label_column, class_names, what)
    return ZeroShotEvaluator(images, labels, names, check_templates(templates or DEFAULT_TEMPLATES, what),
                             name=prefix, batch_size=batch_size)


def image_text_retrieval(
    data: dict[str, Any],
    limit: int | None = None,
    ks: list[int] | None = None,
    prefix: str = "retrieval",
    batch_size: int = 256,
) -> Any:
    """Image -> text and text -> image Recall@K (default K = 1, 5, 10) over the first ``limit`` rows of an
    image-caption dataset component (``image_captions`` or ``labelled_captions``; every caption of a row counts)."""
    from .cross_modal import CrossModalRetrievalEvaluator

    dataset = build_dataset(data)
    source = f"image_text_retrieval evaluator '{prefix}' data ({data.get('name')})"
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    images: list[torch.Tensor] = []
    captions: list[list[str]] = []
    for i in range(n):
        row = dataset[i]
        missing = [c for c in ("image", "caption") if c not in row]
        if missing:
            raise DataError(f"{source}: column(s) {missing} not found; the rows have columns: {', '.join(row)} "
                            "(use an image_captions or labelled_captions dataset)")
        image = row["image"]
        if images and image.shape != images[0].shape:
            raise DataError(f"{source}: row {i} has an image of shape {tuple(image.shape)}, row 0 has "
                            f"{tuple(images[0].shape)}; set image_size on the dataset to resize them")
        images.append(image)
        captions.append(list(row["caption"]) if not isinstance(row["caption"], str) else [row["caption"]])
    if not images:
        raise DataError(f"{source}: no rows")
    return CrossModalRetrievalEvaluator(torch.stack(images), captions, tuple(ks or (1, 5, 10)), name=prefix,
                                        batch_size=batch_size)
