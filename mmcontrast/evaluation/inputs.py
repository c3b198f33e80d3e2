"""What evaluators read from their config section: dataset components built into labelled images or documents'
sentence lists, and the section keys that every labelled-split evaluator shares (``LabelledSection``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data import build_dataset
from ..data.documents import sentence_lists
from ..data.images import labelled_images


@dataclass(kw_only=True)
class LabelledSection:
    """Section keys of the evaluators that read a labelled ``train`` and ``test`` split (dataset components,
    e.g. ``{name: fashion_mnist, split: test}``) and take images and labels from two of their columns."""

    train: dict[str, Any]
    test: dict[str, Any]
    image_column: str = "image"
    label_column: str = "label"


def labelled_split(component: dict[str, Any], what: str, image_column: str = "image",
                   label_column: str = "label") -> tuple[torch.Tensor, torch.Tensor]:
    """Build a dataset component and return its images (N, C, H, W) uint8 and labels (N,) int64; errors name
    ``what`` (e.g. ``knn evaluator 'train'``) and the component's dataset."""
    return labelled_images(build_dataset(component), f"{what} data ({component.get('name')})", image_column,
                           label_column)


def labelled_splits(section: LabelledSection,
                    evaluator: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train images, train labels, test images, test labels) of a ``LabelledSection``; errors name
    ``<evaluator> evaluator 'train'`` or ``'test'``."""
    train = labelled_split(section.train, f"{evaluator} evaluator 'train'", section.image_column,
                           section.label_column)
    test = labelled_split(section.test, f"{evaluator} evaluator 'test'", section.image_column, section.label_column)
    return train[0], train[1], test[0], test[1]


@dataclass(kw_only=True)
class DocumentsSection:
    """Section keys of the evaluators that read documents: ``data`` (a dataset component whose rows hold sentence
    lists, e.g. the held-out split of ``documents``) and the ``sentences_column`` of its rows."""

    data: dict[str, Any]
    sentences_column: str = "sentences"


def section_documents(section: Any, evaluator: str) -> list[list[str]]:
    """The sentence lists of a ``DocumentsSection``'s ``data``; errors name ``<evaluator> '<section.prefix>'``."""
    return document_sentences(section.data, section.sentences_column, f"{evaluator} '{section.prefix}'")


#: The ``__init__`` parameters of a labelled-split evaluator that ``labelled_inputs`` fills.
LABELLED_INPUTS = ("train_inputs", "train_labels", "test_inputs", "test_labels")


def labelled_inputs(section: LabelledSection, evaluator: str) -> dict[str, torch.Tensor]:
    """``labelled_splits`` as the keyword arguments ``train_inputs``, ``train_labels``, ``test_inputs`` and
    ``test_labels`` (images (N, C, H, W) / (M, C, H, W), labels (N,) / (M,))."""
    return dict(zip(LABELLED_INPUTS, labelled_splits(section, evaluator)))


def document_sentences(data: dict[str, Any], sentences_column: str, what: str) -> list[list[str]]:
    """Sentence lists of a dataset component's rows (``documents``: e.g. ``{name: documents, path: ...,
    split: heldout}``)."""
    return sentence_lists(build_dataset(data), sentences_column, f"{what} data ({data.get('name')})")


def seeded_subset(n: int, keep: int | None, seed: int) -> list[int] | None:
    """Sorted indices of a seeded random subset of ``keep`` of ``n`` items, or None when all are kept."""
    if keep is None or n <= keep:
        return None
    return sorted(torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:keep].tolist())


def seeded_rows(keep: int | None, seed: int, *columns: list[Any]) -> tuple[list[Any], ...]:
    """The same seeded random subset (``seeded_subset``, in order) of ``keep`` rows of each of the parallel lists
    ``columns``, or the lists themselves when all are kept."""
    rows = seeded_subset(len(columns[0]), keep, seed)
    return columns if rows is None else tuple([column[i] for i in rows] for column in columns)
