"""Image-caption rows for image-text training (CLIP) and evaluation: ``{"image": uint8 (C, H, W), "caption":
[str, ...]}``, from

- ``image_captions``: any Hugging Face ``datasets`` source with an image column and one or more caption columns
  (Hub sets such as Flickr30k or COCO captions, ``imagefolder`` with a ``metadata.csv`` of captions); a caption
  column may hold one string or a list of strings (several captions per image);
- ``labelled_captions``: a labelled image set whose labels become captions through prompt templates
  ("a photo of a {}." -> "a photo of a sneaker."), as CLIP's zero-shot prompts (Radford et al. 2021, Sec. 3.1.4).

Views draw one caption per image per step (``image_caption``); retrieval evaluation uses them all.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from ..encoders.vision import pil_bilinear_resize
from .build import build_dataset
from .errors import DataError
from .hub import hf

#: Class names of the labelled sets shipped offline, as they read in a caption.
CLASS_NAMES: dict[str, list[str]] = {
    "fashion_mnist": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
    "mnist": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "sklearn_digits": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
}
#: Prompt templates; ``{}`` is replaced by the class name.
DEFAULT_TEMPLATES: list[str] = ["a photo of a {}.", "a picture of a {}.", "an image of a {}."]


def check_templates(templates: Sequence[str], where: str) -> list[str]:
    """Templates as a non-empty list of strings that each contain ``{}`` exactly once."""
    if isinstance(templates, str) or not isinstance(templates, Sequence) or not templates:
        raise DataError(f"{where}: templates must be a non-empty list of strings with '{{}}', got {templates!r}")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise DataError(f"{where}: template {template!r} must contain '{{}}' exactly once (the class name)")
    return list(templates)


def class_names_of(dataset: Any, component: dict[str, Any], label_column: str,
                   class_names: Sequence[str] | None, where: str) -> list[str]:
    """``class_names``, else the names of a ``datasets.ClassLabel`` column, else those of a known offline set."""
    if class_names is not None:
        if isinstance(class_names, str) or not class_names or not all(isinstance(c, str) for c in class_names):
            raise DataError(f"{where}: class_names must be a non-empty list of strings, got {class_names!r}")
        return list(class_names)
    feature = getattr(dataset, "features", {}).get(label_column) if hasattr(dataset, "features") else None
    if getattr(feature, "names", None):
        return list(feature.names)
    if component.get("name") in CLASS_NAMES:
        return list(CLASS_NAMES[component["name"]])
    raise DataError(f"{where}: set class_names (the dataset's labels have no names); known sets: "
                    f"{', '.join(CLASS_NAMES)}")


def captions_of(value: Any, where: str, column: str) -> list[str]:
    """One caption (str) or several (list of str) -> a non-empty list of non-empty strings."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Sequence) or isinstance(values, (bytes, str)):
        raise DataError(f"{where}: column '{column}' must hold a caption or a list of captions, "
                        f"got {type(value).__name__}")
    captions = list(values)
    if not captions:
        raise DataError(f"{where}: column '{column}' has no caption")
    for caption in captions:
        if not isinstance(caption, str) or not caption.strip():
            raise DataError(f"{where}: column '{column}' holds an empty or non-string caption ({caption!r})")
    return captions


class SourcedRows(Dataset):
    """The rows of an underlying dataset (``rows``) whose errors name ``source`` and the row."""

    rows: Any
    source: str

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, index: int) -> tuple[Any, str]:
        """(row ``index`` of ``rows``, ``"<source>: row <index>"`` for error messages); a DataError while reading
        the row (an undecodable image) says which row it is."""
        where = f"{self.source}: row {index}"
        try:
            return self.rows[index], where
        except DataError as err:
            raise DataError(f"{where}: {err}") from None


class ImageCaptionRows(SourcedRows):
    """Rows ``{"image": uint8 (C, H, W), "caption": [str, ...]}`` (+ ``label`` when the source has an integer one)
    over a row dataset with an image column and caption column(s); images resized to ``image_size`` x
    ``image_size`` with PIL's bilinear filter (as the exported image processor resizes) when set, so that images
    of different sizes stack into a batch. Errors name the dataset row."""

    def __init__(self, rows: Any, image_column: str, caption_columns: list[str], image_size: int | None,
                 source: str) -> None:
        self.rows = rows
        self.image_column = image_column
        self.caption_columns = caption_columns
        self.image_size = image_size
        self.source = source
        names = list(getattr(rows, "column_names", None) or [])
        self.has_label = "label" in names and "label" not in caption_columns and image_column != "label"
        self.column_names = ["image", "caption"] + (["label"] if self.has_label else [])

    def __getitem__(self, index: int) -> dict[str, Any]:
        row, where = self.row(index)
        image = row[self.image_column]
        if not isinstance(image, torch.Tensor) or image.dim() != 3:
            raise DataError(f"{where}: column '{self.image_column}' is not an image ({type(image).__name__})")
        if self.image_size is not None and tuple(image.shape[-2:]) != (self.image_size, self.image_size):
            image = pil_bilinear_resize(image.unsqueeze(0), self.image_size)[0]
        captions = [c for column in self.caption_columns for c in captions_of(row[column], where, column)]
        out: dict[str, Any] = {"image": image, "caption": captions}
        if self.has_label and isinstance(row.get("label"), int):
            out["label"] = row["label"]
        return out


def image_captions(
    path: str,
    subset: str | None = None,
    split: str = "train",
    data_files: Any = None,
    data_dir: str | None = None,
    image_column: str = "image",
    caption_column: str | list[str] = "caption",
    image_size: int | None = None,
    image_mode: str | None = "RGB",
    rename_columns: dict[str, str] | None = None,
    limit: int | None = None,
    revision: str | None = None,
) -> ImageCaptionRows:
    """Image-caption rows from ``datasets.load_dataset(path, subset, ...)``.

    Examples: ``{path: nlphuji/flickr30k, split: test, caption_column: caption}`` (a list of five captions per
    image); ``{path: imagefolder, data_dir: my_images}`` with ``my_images/metadata.csv`` holding ``file_name`` and
    ``caption`` columns; ``caption_column: [caption_1, caption_2]`` for one caption per column.

    Args:
        image_column: the image column (decoded to uint8 tensors; a file that fails names the row and file).
        caption_column: a column holding a caption or a list of captions, or a list of such columns.
        image_size: resize every image to this square size (PIL bilinear, as the exported processor); needed when
            the images differ in size (they are stacked into batches).
        image_mode: ``RGB`` (default: grey images become 3-channel), ``L``, or null to keep each image's mode.
    """
    caption_columns = [caption_column] if isinstance(caption_column, str) else list(caption_column)
    if not caption_columns or not all(isinstance(c, str) for c in caption_columns):
        raise DataError(f"dataset '{path}': caption_column must be a column name or a list of them, "
                        f"got {caption_column!r}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"dataset '{path}': image_size must be a positive integer or null, got {image_size!r}")
    rows = hf(path, subset=subset, split=split, data_files=data_files, data_dir=data_dir,
              image_columns=[image_column], rename_columns=rename_columns, image_mode=image_mode, limit=limit,
              revision=revision)
    where = f"dataset '{path}'" + (f" (data_dir '{data_dir}')" if data_dir else "")
    missing = [c for c in caption_columns if c not in rows.column_names]
    if missing:
        raise DataError(f"{where}: caption column(s) {missing} not found; the rows have columns: "
                        f"{', '.join(rows.column_names)} (set caption_column)")
    return ImageCaptionRows(rows, image_column, caption_columns, image_size, where)


class LabelledCaptionRows(SourcedRows):
    """Rows ``{"image", "label", "caption": [template.format(class name) for each template]}`` over a labelled
    image dataset."""

    def __init__(self, rows: Any, class_names: list[str], templates: list[str], image_column: str,
                 label_column: str, source: str) -> None:
        self.rows = rows
        self.class_names = class_names
        self.templates = templates
        self.image_column, self.label_column = image_column, label_column
        self.source = source
        self.captions = [[t.format(name) for t in templates] for name in class_names]
        self.column_names = ["image", "label", "caption"]

    def __getitem__(self, index: int) -> dict[str, Any]:
        row, where = self.row(index)
        label = row[self.label_column]
        label = int(label) if isinstance(label, torch.Tensor) else label
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(self.class_names):
            raise DataError(f"{where}: column '{self.label_column}' must be a class index in "
                            f"[0, {len(self.class_names) - 1}] (one per class name), got {label!r}")
        return {"image": row[self.image_column], "label": label, "caption": list(self.captions[label])}


def labelled_captions(
    dataset: dict[str, Any],
    class_names: list[str] | None = None,
    templates: list[str] | None = None,
    image_column: str = "image",
    label_column: str = "label",
) -> LabelledCaptionRows:
    """A labelled image set (any dataset component, e.g. ``{name: fashion_mnist, split: train}``) as image-caption
    rows: each image's captions are the prompt ``templates`` filled with its class name.

    Args:
        dataset: the labelled dataset component.
        class_names: one name per label (default: the dataset's ``ClassLabel`` names, or the known names of
            ``fashion_mnist`` / ``mnist`` / ``sklearn_digits``).
        templates: prompt templates with ``{}`` (default: ``DEFAULT_TEMPLATES``).
    """
    if not isinstance(dataset, dict) or "name" not in dataset:
        raise DataError(f"labelled_captions: 'dataset' must be a dataset component with a 'name', got {dataset!r}")
    where = f"labelled_captions over '{dataset['name']}'"
    rows = build_dataset(dataset)
    columns = list(getattr(rows, "column_names", None) or (rows[0].keys() if len(rows) else []))
    missing = [c for c in (image_column, label_column) if c not in columns]
    if missing:
        raise DataError(f"{where}: column(s) {missing} not found; the rows have columns: {', '.join(columns)} "
                        f"(set image_column / label_column)")
    names = class_names_of(rows, dataset, label_column, class_names, where)
    return LabelledCaptionRows(rows, names, check_templates(templates or DEFAULT_TEMPLATES, where), image_column,
                               label_column, where)
