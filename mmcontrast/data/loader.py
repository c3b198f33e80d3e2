"""The training ``DataLoader``: the dataset's rows with their position (``IndexedRows``), batched by a batch
sampler component or by a seeded shuffle."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import ConfigError
from .collate import collate_rows
from .samplers import build_batch_sampler


class IndexedRows(Dataset):
    """Adds each row's position as an ``index`` column (memory banks address samples by it)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = dict(self.dataset[index])
        row.setdefault("index", index)
        return row


def training_loader(
    rows: IndexedRows, batch_size: int, shuffle: bool, drop_last: bool, num_workers: int, seed: int,
    batch_sampler: dict[str, Any] | None = None,
) -> tuple[DataLoader, Sampler | None]:
    """-> (the loader of ``rows`` (batches of collated row dicts), the batch sampler built from the
    ``batch_sampler`` component or None). Without a batch sampler the loader shuffles with its own generator
    seeded by ``seed``: creating an iterator must not draw from the global RNG that dropout uses, or a resumed
    run (which creates its iterator after restoring the RNG) would diverge. ConfigError when no batch is left."""
    sampler = None
    if batch_sampler is not None:
        sampler = build_batch_sampler(batch_sampler, rows.dataset, batch_size, drop_last, shuffle, seed)
        loader = DataLoader(rows, batch_sampler=sampler, collate_fn=collate_rows, num_workers=num_workers)
    else:
        loader = DataLoader(rows, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, collate_fn=collate_rows,
                            num_workers=num_workers, generator=torch.Generator().manual_seed(seed))
    if len(loader) == 0:
        raise ConfigError(f"{len(rows)} rows give no batch of {batch_size} with data.drop_last=true: lower "
                          "train.batch_size or set data.drop_last=false")
    return loader, sampler
