"""Batch samplers chosen by config (``data.batch_sampler``). One registry: ``BATCH_SAMPLERS``.

A batch sampler decides which rows share a batch, which matters for in-batch negatives: ``no_duplicates``
keeps a text out of two rows of the same batch (a duplicate would be a false negative); ``class_balanced`` fills
a batch with ``samples_per_class`` rows of each of several classes (label-aware losses and miners need positives
in the batch); ``length_grouped`` puts texts of similar length together (less padding). A registry entry is a factory of the config's own keys whose ``build(dataset, batch_size,
drop_last, shuffle, seed)`` gives the sampler (the trainer supplies those from ``train`` and ``data``).
"""

from __future__ import annotations

from typing import Any, Protocol

from torch.utils.data import Sampler

from ..encoders.loading import from_pretrained
from ..registry import Registry
from .class_balanced import ClassBalancedBatchSampler, dataset_labels
from .length_grouped import LengthGroupedBatchSampler, row_lengths
from .no_duplicates import NoDuplicatesBatchSampler


class BatchSamplerFactory(Protocol):
    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler: ...


BATCH_SAMPLERS: Registry[type] = Registry("batch_sampler")


@BATCH_SAMPLERS.register("no_duplicates")
class NoDuplicates:
    """``data.no_duplicates.NoDuplicatesBatchSampler``: no text of ``columns`` (default: every text or
    list-of-text column) appears in two rows of one batch."""

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler:
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
        return ClassBalancedBatchSampler(dataset_labels(dataset, self.label_column), batch_size,
                                         self.samples_per_class, shuffle=shuffle, seed=seed)


@BATCH_SAMPLERS.register("length_grouped")
class LengthGrouped:
    """``data.length_grouped.LengthGroupedBatchSampler``: rows of similar length share a batch (megabatches of
    ``megabatch_size`` batches sorted by length, batch order shuffled; seeded per epoch). Lengths are the longest
    text of each row in ``columns`` (default: every text column), in characters, or in tokens of ``tokenizer``
    (a model reference as ``encoder.model``)."""

    def __init__(self, megabatch_size: int = 50, columns: list[str] | None = None,
                 tokenizer: str | None = None) -> None:
        if megabatch_size < 1:
            raise ValueError(f"data.batch_sampler.megabatch_size must be >= 1, got {megabatch_size}")
        self.megabatch_size = megabatch_size
        self.columns = columns
        self.tokenizer = tokenizer

    def build(self, dataset: Any, batch_size: int, drop_last: bool, shuffle: bool, seed: int) -> Sampler:
        tokenizer = None
        if self.tokenizer is not None:
            from transformers import AutoTokenizer

            tokenizer = from_pretrained(AutoTokenizer.from_pretrained, self.tokenizer, "data.batch_sampler.tokenizer")
        return LengthGroupedBatchSampler(row_lengths(dataset, self.columns, tokenizer), batch_size,
                                         self.megabatch_size, drop_last=drop_last, shuffle=shuffle, seed=seed)
