"""Image datasets held as uint8 tensors: IDX files (MNIST, Fashion-MNIST) and scikit-learn's digits; the labelled
images of any row dataset (``labelled_images``)."""

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


#: Where the Debian package ``dataset-fashion-mnist`` installs Fashion-MNIST (Xiao et al. 2017).
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
#: File stems of the IDX files of each split, shared by MNIST and Fashion-MNIST (LeCun's names).
IDX_SPLITS = {"train": "train", "test": "t10k"}


def _split_files(root: str | Path, split: str, dataset: str, hint: str) -> tuple[Path, Path]:
    """``(images, labels)`` IDX paths of ``split`` under ``root`` (``.gz`` or uncompressed), or an error that
    names the missing path and says how to get the files (``hint``)."""
    if split not in IDX_SPLITS:
        raise DataError(f"{dataset}: split must be one of {', '.join(IDX_SPLITS)}, got '{split}'")
    root = Path(root)
    found = []
    for kind, magic in (("images", "idx3"), ("labels", "idx1")):
        stem = root / f"{IDX_SPLITS[split]}-{kind}-{magic}-ubyte"
        candidates = [stem.with_name(stem.name + ".gz"), stem]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"{dataset} ({split} split): file not found: {candidates[0]} "
                                    f"(nor {candidates[1].name}); {hint}")
        found.append(path)
    return found[0], found[1]


def fashion_mnist(split: str = "train", root: str = FASHION_MNIST_ROOT, limit: int | None = None,
                  start: int = 0) -> ImageDataset:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grey clothing images in 10 classes, 60,000 train and
    10,000 test rows ``{"image": uint8 (1, 28, 28), "label": int}``, read from the IDX files of the Debian
    package ``dataset-fashion-mnist`` (``root``); rows ``start .. start + limit``."""
    images, labels = _split_files(root, split, "fashion_mnist",
                                  f"install them with `apt-get install dataset-fashion-mnist` (they go to "
                                  f"{FASHION_MNIST_ROOT}) or set `root` to a folder holding them")
    return idx_images(str(images), str(labels), limit=limit, start=start)


def mnist(root: str, split: str = "test", limit: int | None = None, start: int = 0) -> ImageDataset:
    """MNIST (LeCun et al. 1998) from a folder of IDX files (torchvision's ``MNIST/raw`` layout): rows
    ``{"image": uint8 (1, 28, 28), "label": int}``, ``start .. start + limit``. Offline only the test split
    (10,000 rows) is at ``../shared/data/images_mnist_test``."""
    images, labels = _split_files(root, split, "mnist",
                                  "download MNIST's IDX files into that folder (offline, only the test split "
                                  "exists, under ../shared/data/images_mnist_test)")
    return idx_images(str(images), str(labels), limit=limit, start=start)


def labelled_images(dataset: Any, source: str, image_column: str = "image",
                    label_column: str = "label") -> tuple[torch.Tensor, torch.Tensor]:
    """The images (N, C, H, W) uint8 and labels (N,) int64 of a built row dataset.

    ``ImageDataset`` datasets (``fashion_mnist``, ``idx_images``, ...) hand over their tensors; other row
    datasets (``hf``) are read in slices of 1,000 rows. Errors name ``source`` (e.g. ``knn evaluator 'train'
    data (hf)``), the columns that exist, and the row whose label or image size does not fit.
    """
    columns = list(getattr(dataset, "column_names", None) or (dataset[0].keys() if len(dataset) else []))
    missing = [c for c in (image_column, label_column) if c not in columns]
    if missing:
        raise DataError(f"{source}: column(s) {missing} not found; columns: {', '.join(map(str, columns))} "
                        f"(set image_column / label_column)")
    if hasattr(dataset, "images") and getattr(dataset, "labels", None) is not None:
        return dataset.images, dataset.labels
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for start in range(0, len(dataset), 1000):
        if hasattr(dataset, "features"):  # a datasets.Dataset: column slices (batched image decoding)
            batch = dataset[start : start + 1000]
        else:  # any other row dataset
            rows = [dataset[i] for i in range(start, min(start + 1000, len(dataset)))]
            batch = {c: [row[c] for row in rows] for c in (image_column, label_column)}
        for offset, (image, label) in enumerate(zip(batch[image_column], batch[label_column])):
            row = start + offset
            if not isinstance(image, torch.Tensor) or image.dim() != 3:
                raise DataError(f"{source}: row {row}, column '{image_column}' is not an image tensor (C, H, W) "
                                f"({type(image).__name__}); is it an image column?")
            if images and image.shape != images[0].shape:
                raise DataError(f"{source}: row {row}, column '{image_column}' has shape {tuple(image.shape)}, "
                                f"row 0 has {tuple(images[0].shape)}; evaluation needs images of one size "
                                f"(resize the files, or use image_mode: RGB / L for mixed channels)")
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
                raise DataError(f"{source}: row {row}, column '{label_column}' must be a class index >= 0, "
                                f"got {label!r}")
            images.append(image)
            labels.append(int(label))
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)
