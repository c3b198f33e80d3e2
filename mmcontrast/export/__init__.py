"""Export of a trained ``ContrastiveModel`` to ``<output_dir>/final``: a folder that loads with the standard
libraries (Sentence-Transformers / ``transformers`` for text, ``AutoModel`` + ``AutoImageProcessor`` for
vision, a ``VisionTextDualEncoderModel`` + processor for an image-text dual encoder), with its model card and
config, optionally pushed to the Hugging Face Hub."""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

from ..encoders import TwoTowerModel
from ..errors import RunError
from ..secrets import redact_secrets
from .card_paths import public_config
from .dual_encoder import save_dual_encoder
from .dual_encoder_card import write_dual_encoder_card
from .hub import push_to_hub
from .checks import export_problems, non_finite_parameters
from .model_card import write_model_card
from .text import save_text_encoder
from .vision import save_vision_encoder

CONFIG_FILE = "mmcontrast_config.yaml"
SAVERS = {"text": save_text_encoder, "vision": save_vision_encoder, "image_text": save_dual_encoder}


def export_final(
    model: Any,
    cfg: Any,
    metrics: dict[str, float] | None,
    path: str | Path,
    initial_metrics: dict[str, float] | None = None,
    trained_steps: int | None = None,
    replace: bool = True,
) -> Path:
    """Write the export folder ``path`` (model files, ``mmcontrast_config.yaml``, README.md model card) and push
    it to the Hub when ``cfg.export.push_to_hub``. A two-tower model is written as ``path/query`` and
    ``path/passage``, each a complete folder; the card at ``path`` explains which to use for what.

    The folder is written under a temporary sibling name and renamed into place at the end, so a crash never
    leaves a half-written ``path``; an existing ``path`` is replaced only once the new one is complete, and only
    when ``replace``. Non-finite weights are never written nor pushed (RunError). ``trained_steps`` (the
    checkpoint's step) is stated in the card when it differs from the config's planned length.
    """
    modality = getattr(model, "modality", None)
    if modality not in SAVERS:
        raise ValueError(f"cannot export a model of modality '{modality}'; supported: {', '.join(SAVERS)}")
    path = Path(path)
    cfg = _without_secrets(cfg)
    bad = non_finite_parameters(model)
    if bad:
        raise RunError(f"refusing to export to {path}: {len(bad)} weight tensor(s) hold NaN or infinite values "
                       f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); export an earlier checkpoint "
                       "with --checkpoint")
    if path.exists() and not replace:
        raise RunError(f"{path} already holds an export: pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        if isinstance(model, TwoTowerModel):  # DPR with separate weights: one loadable folder per tower
            SAVERS[modality](model.query, tmp / "query")
            SAVERS[modality](model.passage, tmp / "passage")
        else:
            SAVERS[modality](model, tmp)
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(public_config(cfg), sort_keys=False), encoding="utf-8")
        if modality == "image_text":  # a VisionTextDualEncoderModel folder
            write_dual_encoder_card(tmp, cfg, metrics, initial_metrics, trained_steps)
        else:
            write_model_card(tmp, cfg, metrics, initial_metrics, modality, trained_steps)
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if cfg.export.push_to_hub:
        url = push_to_hub(
            path,
            cfg.export.hub_repo_id,
            private=cfg.export.hub_private,
            token_env=cfg.export.hub_token_env,
        )
        print(f"pushed {path} to {url}")
    return path


def _without_secrets(cfg: Any) -> Any:
    """A copy of the config (a dataclass tree) with every token-like string replaced: nothing exported, carded or
    pushed holds a token, whichever key it was typed into."""
    if not dataclasses.is_dataclass(cfg):
        return redact_secrets(cfg)
    values = {f.name: _without_secrets(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    return dataclasses.replace(cfg, **values)


def _clean_leftovers(path: Path) -> None:
    """Remove what a killed export left beside ``path``: partial temporary folders, and previous exports set
    aside during the final renames (restored when ``path`` itself is missing)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in sorted(path.parent.glob(f".{path.name}.old-*")):
        if not path.exists():
            os.replace(old, path)
        else:
            shutil.rmtree(old, ignore_errors=True)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the complete folder ``src`` to ``dst`` (replacing an existing ``dst``) with renames only."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = dst.parent / f".{dst.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)  # put the previous export back
        raise
    shutil.rmtree(old, ignore_errors=True)


__all__ = [
    "export_final",
    "export_problems",
    "non_finite_parameters",
    "save_text_encoder",
    "save_vision_encoder",
    "save_dual_encoder",
    "write_model_card",
    "push_to_hub",
]
