"""Model card (README.md) of an exported encoder: Hub metadata, method, data, results, usage and the config.

The card never holds this machine's absolute paths: local files are rendered by file name (``card_paths``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .card_components import component_params, run_citations, run_tags, summary
from .card_paths import hub_dataset_id, hub_model_id, public_value
from .card_sections import common_tail, front_matter, key_values, write_card
from .card_usage import prompts_usage, text_usage, two_tower_usage, vision_usage


def _method_section(cfg: Any) -> str:
    """The method bullets: every component's own card summary, with the settings that matter."""
    view, objective, negatives, head = cfg.view, cfg.objective, cfg.negatives, cfg.head
    obj_params = component_params(objective, "objectives")
    lines = [
        f"- **View** {_named(view, _public_params(view, 'views'))}: {summary(view, 'views')}.",
        f"- **Encoder** (`{cfg.encoder['name']}`): {summary(cfg.encoder, 'encoders')}.",
    ]
    passage_encoder = getattr(cfg, "passage_encoder", None)
    if passage_encoder is not None:
        lines.append(f"- **Passage encoder** (`{passage_encoder['name']}`): {summary(passage_encoder, 'encoders')}; "
                     "a separate tower for the passages.")
    lines.append(f"- **Objective** (`{objective['name']}`): {summary(objective, 'objectives')}.")
    if obj_params.get("temperature") is not None:  # None: the model's logit scale (clip, siglip)
        learnable = obj_params.get("learnable_temperature", False)
        lines.append(
            f"- **Temperature**: {float(obj_params['temperature']):g}"
            + (" (initial value, learned)" if learnable else " (fixed)")
        )
    if obj_params.get("margin") is not None:
        distance = f" ({obj_params['distance']} distance)" if obj_params.get("distance") else ""
        lines.append(f"- **Margin**: {float(obj_params['margin']):g}{distance}")
    if "normalize" in obj_params:
        lines.append(f"- **Similarity**: {'cosine' if obj_params['normalize'] else 'dot product'} in the loss")
    neg_params = component_params(negatives, "negatives")
    neg_text = summary(negatives, "negatives")
    if negatives["name"] == "in_batch":
        neg_text += "; gathered across processes" if neg_params.get("gather", True) else "; per process"
    lines.append(f"- **Negatives** (`{negatives['name']}`): {neg_text}.")
    if head is None:
        lines.append("- **Head**: none.")
    else:
        head_params = component_params(head, "heads")
        kept = "kept at evaluation and in this export" if not head_params.get("train_only", True) else (
            "used for the training loss only; embeddings are the encoder output"
        )
        lines.append(f"- **Head** {_named(head, head_params)}: {summary(head, 'heads')}; {kept}.")
    target = getattr(cfg, "target", None)
    if target is not None:
        target_params = component_params(target, "targets")
        lines.append(f"- **Target** {_named(target, target_params)}: {summary(target, 'targets')}.")
    predictor = getattr(cfg, "predictor", None)
    if predictor is not None:
        lines.append(f"- **Predictor** {_named(predictor, component_params(predictor, 'heads'))}: "
                     f"{summary(predictor, 'heads')}; on the online branch for the training loss only.")
    tile_head = getattr(cfg, "tile_head", None)
    if tile_head is not None:
        lines.append(f"- **Tile head** {_named(tile_head, component_params(tile_head, 'tile_heads'))}: "
                     f"{summary(tile_head, 'tile_heads')}; combines the encoder's features of each jigsaw tile (each "
                     "tile encoded on its own) into the jigsaw view's embedding, for the training loss only.")
    miner = getattr(cfg, "miner", None)
    if miner is not None:
        lines.append(f"- **Miner** {_named(miner, component_params(miner, 'miners'))}: {summary(miner, 'miners')}.")
    if getattr(cfg, "symmetric", "none") != "none":
        lines.append(f"- **Symmetric loss**: both directions, {cfg.symmetric}.")
    return "\n".join(lines)


def _named(component: dict[str, Any], params: dict[str, Any]) -> str:
    """``(`name`; `key=value`, ...)``."""
    return f"(`{component['name']}`; {key_values(params)})"


def _public_params(component: dict[str, Any], axis: str) -> dict[str, Any]:
    params = public_value(component_params(component, axis), data=True)
    return {k: v for k, v in params.items() if k not in ("seed", "device")}


def write_model_card(
    path: str | Path,
    cfg: Any,
    metrics: dict[str, Any] | None,
    initial_metrics: dict[str, Any] | None = None,
    modality: str = "text",
    trained_steps: int | None = None,
) -> Path:
    """Write ``<path>/README.md`` and return its path. Reads the exported files in ``path`` (when present) so
    that the usage code matches them exactly."""
    if modality not in ("text", "vision"):
        raise ValueError(f"modality must be 'text' or 'vision', got '{modality}'")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    method = _method_section(cfg)
    base_model = hub_model_id(cfg.encoder.get("model"))
    dataset_id = hub_dataset_id(cfg.data.train)
    front: dict[str, Any] = {
        "library_name": "sentence-transformers" if modality == "text" else "transformers",
        "pipeline_tag": "sentence-similarity" if modality == "text" else "image-feature-extraction",
        "tags": list(
            dict.fromkeys(
                ["contrastive-learning", "mmcontrast", *run_tags(cfg)]
                + (["sentence-transformers", "feature-extraction"] if modality == "text" else [])
            )
        ),
    }
    if base_model:
        front["base_model"] = base_model
    if dataset_id:
        front["datasets"] = [dataset_id]
    model_ref = cfg.export.hub_repo_id or "path/to/final"
    encoder = public_value({k: v for k, v in cfg.encoder.items() if k != "config"})
    if base_model:
        backbone = f"[{base_model}](https://huggingface.co/{base_model})"
    elif encoder.get("model"):
        backbone = f"`{encoder['model']}`"
    else:
        model_type = (cfg.encoder.get("config") or {}).get("model_type", "")
        backbone = f"a randomly initialised {model_type + ' ' if model_type else ''}backbone built from a config"
    settings = key_values({k: v for k, v in encoder.items() if k != "name"})
    if modality == "text" and (folder / "query").is_dir() and (folder / "passage").is_dir():
        usage = two_tower_usage(model_ref, cfg)
    elif modality == "text":
        usage = text_usage(model_ref, folder, cfg) + prompts_usage(cfg)
    else:
        usage = vision_usage(model_ref, folder, cfg)
    card = f"""{front_matter(front)}
# {cfg.name}

A {modality} encoder trained with contrastive learning by mmcontrast, starting from {backbone}.
Encoder settings: {settings}.

## Method

{method}

"""
    tail = common_tail(cfg, metrics, initial_metrics, trained_steps, usage, run_citations(cfg))
    return write_card(folder, card + tail)
