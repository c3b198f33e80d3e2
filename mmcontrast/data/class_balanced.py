"""A class-balanced batch sampler: every batch holds ``m`` samples of each of ``batch_size / m`` classes
("P x K" batches: Hermans et al. 2017 for batch-hard triplets; pytorch-metric-learning's MPerClassSampler).

Label-aware losses and miners need positives in the batch: with 10 classes and uniform batches of 64 an anchor
has ~6 positives, with 1,000 classes usually none. This sampler guarantees ``m - 1`` same-class partners per sample.

Policy: each class keeps a stream of its rows (permuted per pass, seeded by ``(seed, epoch, class)``); a batch draws
``batch_size / m`` distinct classes (a seeded permutation of the classes, consumed in order and redrawn when fewer
than needed remain) and takes the next ``m`` rows of each class's stream (a stream that runs out starts a new
permutation of its class, so a class with fewer than ``m`` rows repeats rows). An epoch has ``len(dataset) //
batch_size`` batches, every one full; the batches of an epoch depend only on ``seed`` and ``set_epoch``, so every
process builds the same sequence (Accelerate hands each process its share of it).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def dataset_labels(dataset: Any, label_column: str = "label") -> np.ndarray:
    """Integer labels (N,) of a dataset: an ``ImageDataset``'s label tensor, a ``datasets.Dataset`` column, or
    ``row[label_column]`` of each row; an error naming the column and the columns that exist otherwise."""
    labels = getattr(dataset, "labels", None)
    if label_column == "label" and isinstance(labels, torch.Tensor):
        return labels.numpy().astype(np.int64)
    names = list(getattr(dataset, "column_names", None) or (dataset[0].keys() if len(dataset) else []))
    if label_column not in names:
        source = getattr(dataset, "source", type(dataset).__name__)
        raise KeyError(f"class-balanced batch sampler: the dataset {source} has no label column '{label_column}' "
                       f"(columns: {', '.join(map(str, names)) or 'none'}); set data.batch_sampler.label_column")
    if hasattr(dataset, "select_columns"):  # datasets.Dataset: columnar
        values = list(dataset[label_column])
    else:
        values = [dataset[i][label_column] for i in range(len(dataset))]
    try:
        return np.asarray([int(v) for v in values], dtype=np.int64)
    except (TypeError, ValueError):
        raise TypeError(f"class-balanced batch sampler: column '{label_column}' must hold integer labels") from None


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``samples_per_class`` rows of each of ``batch_size // samples_per_class`` distinct classes.

    Args:
        labels: (N,) integer label of every row.
        batch_size: rows per batch, a multiple of ``samples_per_class``.
        samples_per_class: m.
        shuffle: seeded permutations (else classes in order and rows in dataset order, cycling).
        seed: base seed.
    """

    def __init__(self, labels: np.ndarray | list[int], batch_size: int, samples_per_class: int = 4,
                 shuffle: bool = True, seed: int = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if samples_per_class < 1 or batch_size % samples_per_class:
            raise ValueError(f"class-balanced batch sampler: train.batch_size {batch_size} must be a multiple of "
                             f"samples_per_class {samples_per_class}")
        self.labels = np.asarray(labels, dtype=np.int64)
        if self.labels.ndim != 1 or len(self.labels) == 0:
            raise ValueError("class-balanced batch sampler: no labels")
        self.classes = np.unique(self.labels)
        self.classes_per_batch = batch_size // samples_per_class
        if self.classes_per_batch > len(self.classes):
            raise ValueError(f"class-balanced batch sampler: a batch of {batch_size} with {samples_per_class} per "
                             f"class needs {self.classes_per_batch} classes, the data has {len(self.classes)}")
        self.batch_size = batch_size
        self.samples_per_class = samples_per_class
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.rows = {int(c): np.flatnonzero(self.labels == c) for c in self.classes}
        self.class_index = {int(c): i for i, c in enumerate(self.classes)}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return max(1, len(self.labels) // self.batch_size)

    def _permutation(self, n: int, *key: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch, *key]).permutation(n)

    def __iter__(self) -> Iterator[list[int]]:
        streams = {c: iter(()) for c in self.rows}
        passes = dict.fromkeys(self.rows, 0)
        class_order: list[int] = []
        class_passes = 0

        def take(c: int) -> list[int]:
            out: list[int] = []
            while len(out) < self.samples_per_class:
                nxt = next(streams[c], None)
                if nxt is None:  # start a new permutation of this class's rows
                    rows = self.rows[c]
                    streams[c] = iter(rows[self._permutation(len(rows), 1 + self.class_index[c], passes[c])].tolist())
                    passes[c] += 1
                    continue
                out.append(int(nxt))
            return out

        for _ in range(len(self)):
            if len(class_order) < self.classes_per_batch:
                class_order = [int(c) for c in self.classes[self._permutation(len(self.classes), 0, class_passes)]]
                class_passes += 1
            chosen, class_order = class_order[: self.classes_per_batch], class_order[self.classes_per_batch:]
            yield [row for c in chosen for row in take(c)]
