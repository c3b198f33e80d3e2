"""Datasets from the Hugging Face Hub or any ``datasets`` builder (``text``, ``csv``, ``imagefolder``, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .errors import DataError


def hf(
    path: str,
    name: str | None = None,
    split: str = "train",
    data_files: Any = None,
    image_columns: list[str] | None = None,
    limit: int | None = None,
    revision: str | None = None,
) -> Any:
    """``datasets.load_dataset(path, name, split=split, data_files=data_files)``.

    Hub ids (``uoft-cs/cifar10``), builders with files (``text`` + ``data_files: hf://datasets/...``) and local
    folders all work. Columns holding images (PIL) are turned into uint8 tensors (C, H, W) on access; they
    are detected from the dataset's features, or named in ``image_columns``.
    """
    import datasets

    try:
        dataset = datasets.load_dataset(path, name, split=split, data_files=data_files, revision=revision)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"dataset '{path}' (split '{split}'): {err}") from None
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"dataset '{path}' split '{split}' is empty")
    columns = image_columns or [k for k, v in dataset.features.items() if isinstance(v, datasets.Image)]
    if columns:
        dataset = dataset.with_transform(_ImagesToTensors(columns, path))
    return dataset


class _ImagesToTensors:
    """Batched ``datasets`` transform: PIL images -> uint8 tensors (C, H, W); names the row that fails."""

    def __init__(self, columns: list[str], source: str) -> None:
        self.columns = columns
        self.source = source

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for column in self.columns:
            if column not in batch:
                raise DataError(f"{self.source}: image column '{column}' not found; columns: {', '.join(batch)}")
            batch[column] = [self._convert(image, column, i) for i, image in enumerate(batch[column])]
        return batch

    def _convert(self, image: Any, column: str, i: int) -> torch.Tensor:
        try:
            array = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
        except Exception as err:  # PIL raises many types for undecodable data
            raise DataError(f"{self.source}: column '{column}', row {i} of the batch: cannot decode image ({err})")
        tensor = torch.from_numpy(array.copy())
        return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)
