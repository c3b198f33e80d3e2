"""Batch samplers chosen by config (``data.batch_sampler``). One registry: ``BATCH_SAMPLERS``.

A batch sampler decides which rows share a batch, which matters for in-batch negatives: ``no_duplicates``
keeps a text out of two rows of the same batch (a duplicate would be a false negative); ``class_balanced`` fills
a batch with ``samples_per_class`` rows of each of several classes (label-aware losses and miners need positives
in the batch). A registry entry is a factory of the config's own keys whose ``build(dataset, batch_size,
drop_last, shuffle, seed)`` gives the sampler (the trainer supplies those from ``train`` and ``data``).
"""

from __future__ import annotations

from typing import Any, Protocol

from torch.utils.data import Sampler

from ..registry import Registry


class BatchSamplerFactory(Protocol):
    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler: ...


BATCH_SAMPLERS: Registry[type] = Registry("batch_sampler")


@BATCH_SAMPLERS.register("no_duplicates")
class NoDuplicates:
    """``retrieval.NoDuplicatesBatchSampler``: no text of ``columns`` (default: every text or list-of-text column)
    appears in two rows of one batch."""

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler:
        from ..retrieval.sampler import NoDuplicatesBatchSampler

        return NoDuplicatesBatchSampler(dataset, batch_size, columns=self.columns, drop_last=drop_last,
                                        shuffle=shuffle, seed=seed)


def build_batch_sampler(component: dict[str, Any], dataset: Any, batch_size: int, drop_last: bool, shuffle: bool,
                        seed: int) -> Sampler:
    """Instantiate ``{name: ..., **params}`` from ``BATCH_SAMPLERS`` and build its sampler over ``dataset``."""
    params = {k: v for k, v in component.items() if k != "name"}
    factory: BatchSamplerFactory = BATCH_SAMPLERS.get(component["name"])(**params)
    return factory.build(dataset, batch_size, drop_last, shuffle, seed)


@BATCH_SAMPLERS.register("class_balanced")
class ClassBalanced:
    """``data.class_balanced.ClassBalancedBatchSampler``: ``samples_per_class`` rows of each of
    ``train.batch_size / samples_per_class`` classes per batch (labels read from ``label_column``)."""

    def __init__(self, samples_per_class: int = 4, label_column: str = "label") -> None:
        self.samples_per_class = samples_per_class
        self.label_column = label_column

    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler:
        from .class_balanced import ClassBalancedBatchSampler, dataset_labels

        return ClassBalancedBatchSampler(dataset_labels(dataset, self.label_column), batch_size,
                                         self.samples_per_class, shuffle=shuffle, seed=seed)
