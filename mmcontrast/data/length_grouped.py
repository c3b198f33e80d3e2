"""Length-grouped batching for text: rows of similar length share a batch, so a padded batch carries little padding.

A text batch is padded to its longest text; with random batches of Wikipedia sentences at max length 32 about a
third of the tokens are padding. Grouping by length (the "megabatch" scheme of fairseq and of transformers'
``LengthGroupedSampler``) keeps the randomness of shuffling:

1. each epoch permutes all rows, seeded by ``(seed, epoch)`` (the same plan in every process);
2. the permutation is cut into megabatches of ``megabatch_size x batch_size`` rows, each sorted by length
   (longest first) and cut into batches: a batch holds rows of similar length drawn from a random megabatch;
3. the order of the batches is shuffled (seeded), so batch length does not rise and fall with the megabatches;
   with ``drop_last`` the one short batch (the last of the last megabatch) is left out.

Larger megabatches group lengths more tightly but make batch membership less random. For in-batch negatives,
length becomes something a batch's rows share: negatives of a batch all have about the anchor's length, so length
no longer separates a positive from its negatives (a mild hardening, not a bias toward a shortcut).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def text_columns(dataset: Any, columns: Sequence[str] | None, owner: str) -> list[str]:
    """``columns`` checked against the dataset's, or by default every column whose first row holds a string or
    a list of strings."""
    if len(dataset) == 0:
        raise ValueError(f"{owner}: the dataset is empty")
    names = list(getattr(dataset, "column_names", None) or dataset[0].keys())
    if columns is None:
        first = dataset[0]
        columns = [c for c in names if isinstance(first[c], str)
                   or (isinstance(first[c], (list, tuple)) and all(isinstance(v, str) for v in first[c]))]
        if not columns:
            raise ValueError(f"{owner}: no text column found; columns: {', '.join(names)}")
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f"{owner}: column(s) {missing} not found; columns: {', '.join(names)}")
    return list(columns)


def row_lengths(dataset: Any, columns: Sequence[str] | None = None, tokenizer: Any = None) -> np.ndarray:
    """(N,) the length of each row: the longest of its texts in ``columns`` (a row's texts are padded together),
    counted in characters, or in tokens with ``tokenizer`` (one batched call per 8192 texts)."""
    columns = text_columns(dataset, columns, "length_grouped")
    n = len(dataset)
    if hasattr(dataset, "column_names") and hasattr(dataset, "select_columns"):  # datasets.Dataset: columns
        values = {c: dataset[c] for c in columns}
        rows = [[values[c][i] for c in columns] for i in range(n)]
    else:
        rows = [[dataset[i][c] for c in columns] for i in range(n)]
    texts: list[list[str]] = []
    for i, row in enumerate(rows):
        flat: list[str] = []
        for c, value in zip(columns, row):
            if isinstance(value, str):
                flat.append(value)
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                flat.extend(value)
            else:
                raise TypeError(f"length_grouped: row {i}, column '{c}': expected a string or a list of strings, "
                                f"got {type(value).__name__}")
        texts.append(flat)
    if tokenizer is None:
        return np.array([max((len(t) for t in row), default=0) for row in texts], dtype=np.int64)
    flat_texts = [t for row in texts for t in row]
    counts: list[int] = []
    for start in range(0, len(flat_texts), 8192):
        encoded = tokenizer(flat_texts[start : start + 8192], add_special_tokens=True, return_length=True,
                            return_attention_mask=False, return_token_type_ids=False)
        counts.extend(int(k) for k in encoded["length"])
    out, pos = np.zeros(n, dtype=np.int64), 0
    for i, row in enumerate(texts):
        out[i] = max(counts[pos : pos + len(row)], default=0)
        pos += len(row)
    return out


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of row indices of similar length (module docstring: megabatches, shuffled batch order).

    Args:
        lengths: (N,) length of each row (``row_lengths``).
        batch_size: rows per batch.
        megabatch_size: batches per megabatch (transformers uses 50).
        drop_last: leave out the one short batch of an epoch.
        shuffle: permute rows and batches each epoch; False sorts the whole dataset by length once.
        seed: base seed; epoch ``e`` draws from ``numpy.random.default_rng([seed, e])``.
    """

    def __init__(self, lengths: Sequence[int] | np.ndarray, batch_size: int, megabatch_size: int = 50,
                 drop_last: bool = False, shuffle: bool = True, seed: int = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if megabatch_size < 1:
            raise ValueError(f"data.batch_sampler.megabatch_size must be >= 1, got {megabatch_size}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.megabatch_size = megabatch_size
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches ``__iter__`` yields (call before each epoch)."""
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        """The batches of the current epoch."""
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        mega = self.megabatch_size * self.batch_size if self.shuffle else max(n, 1)
        batches: list[list[int]] = []
        for start in range(0, n, mega):
            part = order[start : start + mega]
            part = part[np.argsort(-self.lengths[part], kind="stable")]  # longest first, ties in permuted order
            batches.extend(part[i : i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
