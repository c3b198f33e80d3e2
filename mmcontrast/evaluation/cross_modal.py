"""Image <-> text retrieval Recall@K (the Flickr30k / COCO protocol of Karpathy & Fei-Fei 2015, used by CLIP):

- image -> text: for each image, the fraction of images with at least one of its captions among the K captions
  most cosine-similar to it;
- text -> image: for each caption, the fraction whose image is among the K most similar images.

Captions are compared as strings: identical captions of different images (templated captions of a labelled set)
are one candidate, relevant to every image that has it, so a duplicate is never a false negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..data import DataError, build_dataset
from .base import Encoder, Evaluator, check_inputs, encode, encode_unique_texts


def score_matrix_recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, ks: Sequence[int],
                             chunk_size: int = 1024) -> dict[int, float]:
    """Recall@K of queries (rows) over candidates (columns).

    Args:
        similarity: (Q, M) scores.
        relevant: (Q, M) bool, at least one True per row.
        ks: cut-offs (each clipped to M).

    Returns:
        {k: fraction of rows with a relevant column among their k highest scores}.
    """
    if similarity.shape != relevant.shape:
        raise ValueError(f"similarity {tuple(similarity.shape)} and relevant {tuple(relevant.shape)} differ")
    largest = min(max(ks), similarity.shape[1])
    hits = {k: 0 for k in ks}
    for start in range(0, similarity.shape[0], chunk_size):
        top = similarity[start : start + chunk_size].topk(largest, dim=1).indices  # (c, K)
        found = relevant[start : start + chunk_size].gather(1, top)  # (c, K)
        first = torch.where(found.any(1), found.float().argmax(1), torch.full_like(top[:, 0], largest))
        for k in ks:
            hits[k] += int((first < min(k, largest)).sum())
    return {k: hits[k] / similarity.shape[0] for k in ks}


class CrossModalRetrievalEvaluator(Evaluator):
    """Image -> text and text -> image Recall@K of an image-text model.

    Metrics: ``image_to_text/R@k`` and ``text_to_image/R@k`` for each k, and ``mean_recall`` (their mean, the
    primary metric).

    Args:
        images: (N, C, H, W) images.
        captions: N lists of captions (``captions[i]`` describes image i).
        ks: the cut-offs K (default 1, 5, 10).
    """

    primary = "mean_recall"

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``image_text_retrieval``: the first ``limit`` rows of an image-caption dataset
        component ``data`` (``image_captions`` or ``labelled_captions``; every caption of a row counts), Recall@K
        for ``ks`` (default 1, 5, 10)."""

        data: dict[str, Any]
        limit: int | None = None
        ks: list[int] | None = None
        prefix: str = "retrieval"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The images, captions and cutoffs of evaluator ``image_text_retrieval``."""
        s = section
        dataset = build_dataset(s.data)
        source = f"image_text_retrieval evaluator '{s.prefix}' data ({s.data.get('name')})"
        n = len(dataset) if s.limit is None else min(int(s.limit), len(dataset))
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
        return dict(images=torch.stack(images), captions=captions, ks=tuple(s.ks or (1, 5, 10)))

    def __init__(self, images: torch.Tensor, captions: Sequence[Sequence[str]], ks: Sequence[int] = (1, 5, 10),
                 name: str = "retrieval", batch_size: int = 256) -> None:
        super().__init__(name, batch_size)
        self.images = check_inputs(images, "retrieval images")
        if len(captions) != self.images.shape[0]:
            raise ValueError(f"{len(captions)} caption lists for {self.images.shape[0]} images")
        self.captions = [list(check_inputs(list(c), f"captions of image {i}", texts_only=True))
                         for i, c in enumerate(captions)]
        if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
            raise ValueError(f"ks must be positive integers, got {ks!r}")
        self.ks = sorted(set(ks))

    def __call__(self, model: Encoder) -> dict[str, float]:
        texts, row_of = encode_unique_texts(model, [c for group in self.captions for c in group], self.batch_size,
                                            "captions")
        images = F.normalize(encode(model, self.images, self.batch_size, "images"), dim=-1)
        similarity = images @ F.normalize(texts, dim=-1).T  # (N, U)
        relevant = torch.zeros_like(similarity, dtype=torch.bool)
        for i, group in enumerate(self.captions):
            relevant[i, [row_of[c] for c in group]] = True
        image_to_text = score_matrix_recall_at_k(similarity, relevant, self.ks)
        text_to_image = score_matrix_recall_at_k(similarity.T.contiguous(), relevant.T.contiguous(), self.ks)
        metrics = {self.key(f"image_to_text/R@{k}"): v for k, v in image_to_text.items()}
        metrics.update({self.key(f"text_to_image/R@{k}"): v for k, v in text_to_image.items()})
        metrics[self.key("mean_recall")] = sum(metrics.values()) / len(metrics)
        return metrics
