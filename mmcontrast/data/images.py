"""Image datasets held as uint8 tensors: IDX files (MNIST, Fashion-MNIST) and scikit-learn's digits."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DataError


class ImageDataset(Dataset):
    """Rows ``{"image": uint8 (C, H, W), "label": int}`` over tensors ``images`` (N, C, H, W), ``labels`` (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, source: str) -> None:
        if images.shape[0] == 0:
            raise DataError(f"{source}: the dataset is empty")
        if labels is not None and labels.shape[0] != images.shape[0]:
            raise DataError(f"{source}: {images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels
        self.source = source
        self.column_names = ["image", "label"] if labels is not None else ["image"]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        row: dict[str, Any] = {"image": self.images[index]}
        if self.labels is not None:
            row["label"] = int(self.labels[index])
        return row


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip) as a numpy array (LeCun's MNIST format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise DataError(f"{path}: only unsigned-byte IDX files are supported (type 0x{dtype_code:02x})")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(f"{path}: header says {expected} values of shape {shape}, file holds {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def idx_images(images: str, labels: str | None = None, limit: int | None = None, start: int = 0) -> ImageDataset:
    """Images (and labels) from IDX files, rows ``start .. start + limit``."""
    array = read_idx(images)
    if array.ndim != 3:
        raise DataError(f"{images}: expected (N, H, W) images, found shape {array.shape}")
    stop = None if limit is None else start + limit
    tensor = torch.from_numpy(array[start:stop].copy()).unsqueeze(1)
    label_tensor = None
    if labels is not None:
        label_array = read_idx(labels)
        if label_array.shape[0] != array.shape[0]:
            raise DataError(f"{labels}: {label_array.shape[0]} labels for {array.shape[0]} images in {images}")
        label_tensor = torch.from_numpy(label_array[start:stop].astype(np.int64))
    return ImageDataset(tensor, label_tensor, images)


def sklearn_digits(split: str = "train", test_fraction: float = 0.25, seed: int = 0) -> ImageDataset:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels scaled to uint8), shipped with the
    library, so runs need no download. ``split``: train | test | all (a fixed, seeded, stratified split)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy((digits.images * (255.0 / 16.0)).round().astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    if split == "all":
        return ImageDataset(images, labels, "sklearn_digits")
    if split not in ("train", "test"):
        raise DataError(f"sklearn_digits: split must be train, test or all, got '{split}'")
    generator = torch.Generator().manual_seed(seed)
    test_mask = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        test_mask[members[: int(round(len(members) * test_fraction))]] = True
    keep = test_mask if split == "test" else ~test_mask
    return ImageDataset(images[keep], labels[keep], f"sklearn_digits[{split}]")
