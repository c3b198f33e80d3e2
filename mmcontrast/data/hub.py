"""Datasets from the Hugging Face Hub or any ``datasets`` builder (``text``, ``csv``, ``parquet``, ``imagefolder``)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .errors import DataError

#: PIL modes an image may be converted to with ``image_mode`` (grey, RGB).
IMAGE_MODES = ("L", "RGB")
#: What ``hf`` does with an image that cannot be decoded.
BAD_IMAGES = ("error", "skip")


def hf(
    path: str,
    subset: str | None = None,
    split: str = "train",
    data_files: Any = None,
    data_dir: str | None = None,
    image_columns: list[str] | None = None,
    rename_columns: dict[str, str] | None = None,
    image_mode: str | None = None,
    limit: int | None = None,
    revision: str | None = None,
    bad_images: str = "error",
    image_size: int | list[int] | None = None,
) -> Any:
    """``datasets.load_dataset(path, subset, data_dir=data_dir, data_files=data_files, split=split)``.

    Hub ids (``uoft-cs/cifar10``), builders with files (``text`` / ``parquet`` + ``data_files``) and local
    folders (``imagefolder`` + ``data_dir``: one subfolder per class gives a ``label`` column, subfolders named
    ``train`` / ``test`` give splits) all work.

    Args:
        subset: the builder configuration (the Hub dataset's subset, e.g. ``triplet-5``); ``name`` is the registry key
            of the component, so the subset has its own key.
        rename_columns: ``{old: new}`` applied right after loading, e.g. ``{img: image}`` so that CIFAR-10's
            ``img`` column feeds views that read ``image``. ``image_columns`` use the new names.
        image_columns: columns holding images; by default those whose feature is ``datasets.Image``.
        image_mode: ``L`` or ``RGB`` to convert every image (mixed grey / colour folders); by default grey
            images stay 1-channel, RGB 3-channel, and any other mode (RGBA, P, CMYK, I;16) becomes RGB.
        limit: keep the first ``limit`` rows.
        bad_images: ``error`` (default): an image that fails to decode raises ``DataError`` naming the file
            when a batch reaches it; ``skip``: every image is decoded once at load time and rows with a corrupt
            or non-image file are left out, reported by a ``UserWarning`` with their count and files.
        image_size: resize every image (bilinear, after ``image_mode``) to ``N`` x ``N`` or ``[height, width]``
            pixels, for folders of mixed sizes; by default images keep their size, and a batch of different sizes
            is a ``DataError`` naming the odd file.

    Images are decoded on access into uint8 tensors (C, H, W); an undecodable image raises ``DataError``
    naming the file (or the row when the image has no file) and the column.
    """
    import datasets

    _check_image_settings({"bad_images": bad_images, "image_mode": image_mode, "image_size": image_size},
                          lambda name: f"dataset '{path}': {name}")
    where = f"dataset '{path}'" + (f" (data_dir '{data_dir}')" if data_dir else "")
    try:
        dataset = datasets.load_dataset(path, subset, data_dir=data_dir, split=split, data_files=data_files,
                                        revision=revision)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{where} (split '{split}'): {err}") from None
    if rename_columns:
        missing = [old for old in rename_columns if old not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: rename_columns names column(s) {missing} that do not exist; "
                            f"columns: {', '.join(dataset.column_names)}")
        dataset = dataset.rename_columns(dict(rename_columns))
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"{where} split '{split}' is empty")
    columns = image_columns or [k for k, v in dataset.features.items() if isinstance(v, datasets.Image)]
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(f"{where}: image column(s) {missing} not found; columns: {', '.join(dataset.column_names)}")
    for column in columns:  # decode ourselves, so that a bad file is named in the error
        if isinstance(dataset.features[column], datasets.Image):
            dataset = dataset.cast_column(column, datasets.Image(decode=False))
    if columns:
        convert = _ImagesToTensors(columns, where, image_mode, image_size)
        if bad_images == "skip":
            dataset = _drop_undecodable(dataset, convert, where)
        dataset = dataset.with_transform(convert)
    return dataset


def _check_hf_params(params: dict[str, Any], key: str = "data.train") -> None:
    """Config-time check of ``hf``'s image settings (``hf.check_params``): DataError naming ``key.<param>``."""
    _check_image_settings(params, lambda name: f"{key}.{name}")


def _check_image_settings(params: dict[str, Any], label: Callable[[str], str]) -> None:
    bad_images, image_mode = params.get("bad_images", "error"), params.get("image_mode")
    if bad_images not in BAD_IMAGES:
        raise DataError(f"{label('bad_images')} must be one of {', '.join(BAD_IMAGES)}, got {bad_images!r}")
    if image_mode is not None and image_mode not in IMAGE_MODES:
        raise DataError(f"{label('image_mode')} must be one of {', '.join(IMAGE_MODES)} or null, got {image_mode!r}")
    size = params.get("image_size")
    if size is not None:
        sides = size if isinstance(size, (list, tuple)) else [size]
        if not 1 <= len(sides) <= 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1
                                               for s in sides):
            raise DataError(f"{label('image_size')} must be a positive int (a square side) or [height, width] in "
                            f"pixels, or null, got {size!r}")


hf.check_params = _check_hf_params  # type: ignore[attr-defined]


def _drop_undecodable(dataset: Any, convert: "_ImagesToTensors", where: str) -> Any:
    """``dataset`` without the rows whose images ``convert`` cannot decode (one decoding pass, with a progress
    bar); a ``UserWarning`` names the files left out. All rows bad is a ``DataError``."""
    import warnings

    from tqdm.auto import tqdm

    bad: list[tuple[int, str]] = []
    for index in tqdm(range(len(dataset)), desc=f"checking images of {where}", leave=False, mininterval=2.0):
        row = dataset[index]
        try:
            convert({column: [row[column]] for column in convert.columns})
        except DataError as err:
            bad.append((index, str(err).split(": ", 1)[-1]))
    if not bad:
        return dataset
    if len(bad) == len(dataset):
        raise DataError(f"{where}: no image decodes ({len(bad)} rows); first: {bad[0][1]}")
    dropped = {index for index, _ in bad}
    examples = "; ".join(message for _, message in bad[:5])
    warnings.warn(f"{where}: {len(bad)} row(s) with an image that cannot be decoded are skipped "
                  f"(bad_images: skip): {examples}", UserWarning, stacklevel=3)
    return dataset.select([i for i in range(len(dataset)) if i not in dropped])


class _ImagesToTensors:
    """Batched ``datasets`` transform: images -> uint8 tensors (C, H, W); names the file or row that fails.

    Accepts undecoded ``{"bytes", "path"}`` dicts (``datasets.Image(decode=False)``) and PIL images.
    """

    def __init__(self, columns: list[str], source: str, mode: str | None = None,
                 size: int | list[int] | None = None) -> None:
        import datasets

        self.columns = columns
        self.source = source
        self.mode = mode
        # PIL sizes are (width, height); image_size is N or [height, width]
        self.size = None if size is None else (size, size) if isinstance(size, int) else (size[1], size[0])
        self._decoder = datasets.Image()

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for column in self.columns:
            if column not in batch:
                raise DataError(f"{self.source}: image column '{column}' not found; columns: {', '.join(batch)}")
            batch[column] = [self._convert(image, column, i) for i, image in enumerate(batch[column])]
        return batch

    def _convert(self, image: Any, column: str, i: int) -> torch.Tensor:
        file = image.get("path") if isinstance(image, dict) else getattr(image, "filename", None)
        what = f"file '{file}'" if file else f"row {i} of the batch"
        try:
            if isinstance(image, dict):
                image = self._decoder.decode_example(image)
            if self.mode is not None:
                image = image.convert(self.mode) if image.mode != self.mode else image
            elif image.mode not in IMAGE_MODES:
                image = image.convert("RGB")
            if self.size is not None and image.size != self.size:
                from PIL import Image

                image = image.resize(self.size, Image.Resampling.BILINEAR)
            array = np.asarray(image)
        except Exception as err:  # PIL raises many types for undecodable data
            raise DataError(f"{self.source}: column '{column}', {what}: cannot decode image "
                            f"({type(err).__name__}: {err})") from None
        tensor = torch.from_numpy(array.copy())
        tensor = tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)
        if file:
            tensor.source = f"file '{file}'"  # collate_rows names it if its shape differs from the batch's
        return tensor
