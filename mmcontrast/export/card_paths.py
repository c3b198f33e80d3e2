"""Local-path scrubbing and Hub ids for model cards: a card never holds this machine's absolute paths.

Local files are rendered by file name; Hub ids, URLs and ``package:`` references are kept.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..encoders.loading import PACKAGE_PREFIX

DATA_SECTIONS = ("data", "evaluators")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def _is_absolute(text: str) -> bool:
    return text.startswith("~") or PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()


def _file_name(text: str) -> str:
    text = text[len("file://") :] if text.startswith("file://") else text
    name = PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name
    return name or text.strip("/\\~") or "."


def public_value(value: Any, data: bool = False) -> Any:
    """``value`` with machine-local paths replaced by their file names (recursively through lists/dicts).

    Absolute paths (``/``, ``~``, ``C:\\``, ``file://``) are always shortened; inside data sections
    (``data``, ``evaluators``) relative paths to existing local files are shortened too. Hub ids, URLs and
    ``package:`` references are kept.
    """
    if isinstance(value, dict):
        return {k: public_value(v, data) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [public_value(v, data) for v in value]
    if not isinstance(value, str) or not value or value.startswith(PACKAGE_PREFIX):
        return value
    if value.startswith("file://") or _is_absolute(value):
        return _file_name(value)
    if "://" in value:
        return value
    if data and ("/" in value or "\\" in value or "." in value):
        try:
            if Path(value).exists():
                return _file_name(value)
        except OSError:  # pragma: no cover - odd names
            pass
    return value


def public_config(cfg: Any) -> dict[str, Any]:
    """The config as a plain tree with local paths rendered by file name."""
    tree = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    return {k: public_value(v, data=k in DATA_SECTIONS) for k, v in tree.items()}


def hub_model_id(ref: Any) -> str | None:
    """``ref`` when it is a Hub model id (not a local folder, not a ``package:`` reference), else None."""
    if not isinstance(ref, str) or ref.startswith(PACKAGE_PREFIX) or _is_absolute(ref) or "://" in ref:
        return None
    if not _HUB_ID.match(ref) or ".." in ref or ref.startswith("."):
        return None
    try:
        if Path(ref).exists():
            return None
    except OSError:  # pragma: no cover
        return None
    return ref


def hub_dataset_id(component: dict[str, Any]) -> str | None:
    """The Hub dataset id of an ``hf`` training-data component (``owner/name``, no local data files), else None."""
    if component.get("name") != "hf" or component.get("data_files") is not None:
        return None
    path = component.get("path")
    ref = hub_model_id(path)
    return ref if ref is not None and "/" in ref else None
