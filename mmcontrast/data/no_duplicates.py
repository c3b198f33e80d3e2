"""A batch sampler that never puts the same text twice in one batch.

With in-batch negatives (DPR, Karpukhin et al. 2020; MultipleNegativesRanking in sentence-transformers), a text
that occurs in two rows of a batch is both a positive and a negative of the same anchor: a false negative. This
sampler builds batches whose rows share no text in the chosen columns.

Policy (greedy, one pass per batch over the rows not yet placed this epoch):

1. Each epoch starts from a permutation of all rows (``shuffle=True``), seeded by ``(seed, epoch)``: the batches
   of an epoch are a function of ``seed`` and ``set_epoch`` only, the same in every process that uses them.
2. A batch is filled by scanning the pending rows in order: a row whose texts collide with the batch so far is
   deferred (it keeps its place at the front of the pending rows, so it goes into the next batch that can take
   it); the scan stops when the batch is full.
3. When the pending rows are exhausted before the batch is full (the rows left all collide with it), the batch
   is short. ``drop_last=False``: it is yielded, so every row is used exactly once per epoch (heavily duplicated
   data can end an epoch with several short batches). ``drop_last=True``: its rows are not used this epoch (they
   are counted in ``left_over`` of that epoch) and get a fresh chance in the next epoch's permutation; the scan
   goes on with the other pending rows, and only full batches are yielded.

A row's own texts may repeat (a SimCSE row whose anchor and positive are the same sentence); only texts shared
between different rows of a batch are avoided. Under data parallelism each process's batch is free of duplicates;
batches of different processes are not compared.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from .length_grouped import text_columns


def _row_texts(value: Any, row: int, column: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"row {row}, column '{column}': expected a string or a list of strings, got {type(value).__name__}")


class NoDuplicatesBatchSampler(Sampler[list[int]]):
    """Batches of row indices in which no text (of ``columns``) appears in two rows.

    Args:
        dataset: a ``datasets.Dataset`` or any sequence of mappings (rows); only ``columns`` are read (once).
        batch_size: rows per batch.
        columns: text columns whose values must not repeat within a batch (a column may hold a list of strings,
            e.g. hard negatives); default: every column whose first row holds a string or list of strings.
        drop_last: yield only full batches (see the module policy for the rows that cannot fill one).
        shuffle: permute the rows each epoch (else keep dataset order, and only duplicates are deferred).
        seed: base seed; the permutation of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e])``.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        columns: Sequence[str] | None = None,
        drop_last: bool = False,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.texts = self._read_texts(dataset, columns)
        self._cache: tuple[int, list[list[int]], list[int]] | None = None

    @staticmethod
    def _read_texts(dataset: Any, columns: Sequence[str] | None) -> list[frozenset[str]]:
        n = len(dataset)
        columns = text_columns(dataset, columns, "NoDuplicatesBatchSampler")
        if hasattr(dataset, "column_names") and hasattr(dataset, "select_columns"):  # datasets.Dataset: columnar
            values = {c: dataset[c] for c in columns}
            rows = ({c: values[c][i] for c in columns} for i in range(n))
        else:
            rows = (dataset[i] for i in range(n))
        return [frozenset(t for c in columns for t in _row_texts(row[c], i, c)) for i, row in enumerate(rows)]

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches ``__iter__`` yields (call before each epoch)."""
        self.epoch = int(epoch)

    def _order(self) -> list[int]:
        n = len(self.texts)
        if not self.shuffle:
            return list(range(n))
        return np.random.default_rng([self.seed, self.epoch]).permutation(n).tolist()

    def _plan(self) -> tuple[list[list[int]], list[int]]:
        """``(batches, left_over)`` of the current epoch (cached per epoch)."""
        if self._cache is not None and self._cache[0] == self.epoch:
            return self._cache[1], self._cache[2]
        pending = deque(self._order())
        batches: list[list[int]] = []
        left_over: list[int] = []
        while pending:
            batch: list[int] = []
            seen: set[str] = set()
            deferred: list[int] = []
            while pending and len(batch) < self.batch_size:
                row = pending.popleft()
                if seen.isdisjoint(self.texts[row]):
                    batch.append(row)
                    seen.update(self.texts[row])
                else:
                    deferred.append(row)
            pending.extendleft(reversed(deferred))  # deferred rows keep their order, ahead of the others
            if len(batch) == self.batch_size or not self.drop_last:
                batches.append(batch)
            else:
                left_over.extend(batch)
        self._cache = (self.epoch, batches, left_over)
        return batches, left_over

    @property
    def left_over(self) -> list[int]:
        """Rows of the current epoch that no full batch could take (empty unless ``drop_last``)."""
        return list(self._plan()[1])

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._plan()[0]:
            yield list(batch)

    def __len__(self) -> int:
        """Exact number of batches of the current epoch (the epoch's plan is computed once and cached)."""
        return len(self._plan()[0])
