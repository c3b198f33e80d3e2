"""Text export: one folder that loads in Sentence-Transformers AND in plain ``transformers``.

Layout (the classic Sentence-Transformers layout, readable by sentence-transformers 2.x up to 6.x)::

    config.json, model.safetensors          backbone (``AutoModel.from_pretrained(folder)``)
    tokenizer files                         ``AutoTokenizer.from_pretrained(folder)``
    modules.json                            Transformer -> Pooling [-> Dense (BERT pooler)] [-> Dense (head)]
    sentence_bert_config.json               max_seq_length = the encoder's max_length
    config_sentence_transformers.json       versions, cosine similarity
    1_Pooling/config.json                   cls or mean
    2_Dense/{config.json, model.safetensors}   only for ``cls`` pooling over a BERT-style pooler (dense + tanh)
    3_Dense/...                             only for a head kept at evaluation (one Linear + activation)

No Normalize module: mmcontrast embeddings are not L2-normalised (cosine similarity is used downstream), so
``SentenceTransformer(folder).encode(texts)`` equals ``ContrastiveModel.encode(texts)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

# torch activation classes Sentence-Transformers' Dense can rebuild without trust_remote_code (the class path
# must start with "torch." and name an nn.Module subclass)
_ACTIVATION_PATHS: dict[type[nn.Module], str] = {
    nn.Identity: "torch.nn.modules.linear.Identity",
    nn.Tanh: "torch.nn.modules.activation.Tanh",
    nn.ReLU: "torch.nn.modules.activation.ReLU",
    nn.GELU: "torch.nn.modules.activation.GELU",
}

ST_POOLING_MODE = {"cls": "cls", "cls_before_pooler": "cls", "mean": "mean"}


def _versions() -> dict[str, str]:
    import transformers

    versions = {"transformers": transformers.__version__, "pytorch": torch.__version__}
    try:
        import sentence_transformers

        versions["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:  # pragma: no cover - sentence-transformers is a dependency
        versions["sentence_transformers"] = "unknown"
    return versions


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _activation_path(module: nn.Module | None) -> str:
    if module is None:
        return _ACTIVATION_PATHS[nn.Identity]
    if type(module) is nn.GELU and getattr(module, "approximate", "none") != "none":
        raise ValueError("cannot export a GELU with approximate='tanh' as a Sentence-Transformers Dense module")
    path = _ACTIVATION_PATHS.get(type(module))
    if path is None:
        raise ValueError(
            f"cannot export activation {type(module).__name__}; supported: "
            + ", ".join(cls.__name__ for cls in _ACTIVATION_PATHS)
        )
    return path


def _dense_spec(linear: nn.Linear, activation: nn.Module | None) -> dict[str, Any]:
    return {"linear": linear, "activation_function": _activation_path(activation)}


def _write_dense(folder: Path, linear: nn.Linear, activation_path: str) -> None:
    """A Sentence-Transformers ``Dense`` module: config.json + model.safetensors (keys linear.weight/bias)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    has_bias = linear.bias is not None
    _write_json(
        folder / "config.json",
        {
            "in_features": int(linear.in_features),
            "out_features": int(linear.out_features),
            "bias": has_bias,
            "activation_function": activation_path,
        },
    )
    tensors = {"linear.weight": linear.weight.detach().float().cpu().contiguous()}
    if has_bias:
        tensors["linear.bias"] = linear.bias.detach().float().cpu().contiguous()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def pooler_dense(encoder: Any) -> dict[str, Any] | None:
    """For ``cls`` pooling over a model with a pooler layer: the pooler as (Linear, Tanh), else None.

    Sentence-Transformers' Pooling takes the [CLS] hidden state; a Dense(tanh) with the pooler's weights after
    it reproduces BERT's ``pooler_output`` (dense + tanh over [CLS]).
    """
    if encoder.pooling != "cls":
        return None
    pooler = getattr(encoder.backbone, "pooler", None)
    if pooler is None:  # pragma: no cover - TextEncoder already switches to cls_before_pooler
        return None
    dense, activation = getattr(pooler, "dense", None), getattr(pooler, "activation", None)
    if not isinstance(dense, nn.Linear) or not isinstance(activation, nn.Tanh):
        raise ValueError(
            f"cannot export 'cls' pooling of {type(encoder.backbone).__name__}: its pooler "
            f"({type(pooler).__name__}) is not a dense + tanh layer over [CLS]; use pooling 'cls_before_pooler'"
        )
    return _dense_spec(dense, activation)


def eval_head_dense(head: Any) -> dict[str, Any] | None:
    """The evaluation-time head as one (Linear, activation) Dense spec; None when no head is used at
    evaluation; ValueError for any other head (several layers, BatchNorm, ...)."""
    if head is None or getattr(head, "train_only", True):
        return None
    layers = list(head.net) if isinstance(getattr(head, "net", None), nn.Sequential) else [head]
    if len(layers) in (1, 2) and isinstance(layers[0], nn.Linear):
        activation = layers[1] if len(layers) == 2 else None
        if activation is None or type(activation) in _ACTIVATION_PATHS:
            return _dense_spec(layers[0], activation)
    kinds = " -> ".join(type(layer).__name__ for layer in layers)
    raise ValueError(
        f"cannot export the evaluation-time head ({kinds}): only a single Linear layer with an optional "
        "activation (relu, tanh, gelu) maps onto a Sentence-Transformers Dense module. Set head.train_only=true "
        "(export the encoder output) or use head.hidden_dims=[]"
    )


def save_text_encoder(model: Any, path: str | Path) -> Path:
    """Write ``model`` (a text ``ContrastiveModel``) as a Sentence-Transformers + transformers folder.

    ``SentenceTransformer(path).encode(texts)`` and ``AutoModel`` + the pooling in the model card reproduce
    ``model.encode(texts)``. Raises ValueError for an evaluation-time head that is not one Linear (+ activation).
    """
    encoder = model.encoder
    if getattr(encoder, "modality", None) != "text":
        raise TypeError(f"save_text_encoder needs a text model, got modality '{getattr(encoder, 'modality', None)}'")
    denses = [d for d in (pooler_dense(encoder), eval_head_dense(model.head)) if d is not None]  # validate first
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    encoder.backbone.save_pretrained(str(path), safe_serialization=True)
    encoder.tokenizer.save_pretrained(str(path))
    _scrub_local_paths(path)

    hidden = int(encoder.backbone.config.hidden_size)
    mode = ST_POOLING_MODE[encoder.pooling]
    modules: list[dict[str, Any]] = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    _write_json(path / "sentence_bert_config.json", {"max_seq_length": int(encoder.max_length), "do_lower_case": False})
    _write_json(
        path / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": mode == "cls",
            "pooling_mode_mean_tokens": mode == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    for dense in denses:
        idx = len(modules)
        folder = f"{idx}_Dense"
        _write_dense(path / folder, dense["linear"], dense["activation_function"])
        modules.append({"idx": idx, "name": str(idx), "path": folder, "type": "sentence_transformers.models.Dense"})
    _write_json(path / "modules.json", modules)
    _write_json(
        path / "config_sentence_transformers.json",
        {
            "__version__": _versions(),
            "model_type": "SentenceTransformer",
            "prompts": dict(getattr(model, "prompts", {}) or {}),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    return path


def _scrub_local_paths(path: Path) -> None:
    """Drop ``_name_or_path`` / ``name_or_path`` entries that would carry this machine's folders, and the
    ``is_local`` / ``local_files_only`` flags transformers 5 copies from how the tokenizer was loaded here."""
    for name in ("config.json", "tokenizer_config.json"):
        file = path / name
        if not file.is_file():
            continue
        data = json.loads(file.read_text(encoding="utf-8"))
        changed = False
        for key in ("_name_or_path", "name_or_path"):
            value = data.get(key)
            if isinstance(value, str) and (Path(value).is_absolute() or value.startswith(("~", "."))):
                data.pop(key)
                changed = True
        if name == "tokenizer_config.json":
            for key in ("is_local", "local_files_only"):
                changed = data.pop(key, None) is not None or changed
        if changed:
            file.write_text(json.dumps(data, indent=2, sort_keys=name == "config.json") + "\n", encoding="utf-8")
