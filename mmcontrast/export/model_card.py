"""Model card (README.md) of an exported encoder: Hub metadata, method, data, results, usage and the config.

The card never holds this machine's absolute paths: local files are rendered by file name (``card_paths``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ..config import _registry, parameters_of
from .card_paths import hub_dataset_id, hub_model_id, public_value
from .card_sections import common_tail, front_matter, key_values, write_card
from .card_usage import prompts_usage, text_usage, two_tower_usage, vision_usage

VIEWS = {
    "simcse_unsup": (
        "Unsupervised SimCSE (Gao et al., 2021)",
        "every sentence is its own positive: the model encodes each sentence twice in one forward pass and the "
        "two views differ only by their dropout masks",
    ),
    "simcse_sup": (
        "Supervised SimCSE (Gao et al., 2021)",
        "(anchor, positive[, hard negative]) rows, e.g. NLI premises with their entailment as the positive and "
        "their contradiction as a hard negative",
    ),
    "two_view_augment": (
        "Two augmented views (SimCLR, Chen et al., 2020)",
        "every image becomes two independently augmented views (random resized crop, flip, colour jitter, "
        "grayscale, blur; optionally solarize and rotation, and different settings for the second view); the two "
        "views of an image are positives",
    ),
    "multi_crop": (
        "Multi-crop (SwAV, Caron et al., 2020)",
        "two global crops and several small local crops of every image; all crops of an image are positives",
    ),
    "jigsaw": (
        "Jigsaw (PIRL, Misra & van der Maaten, 2020)",
        "every image and a copy with its tiles shuffled are positives",
    ),
    "rotation": (
        "Rotation (Gidaris et al., 2018)",
        "images rotated by random multiples of 90 degrees (as positives, or with the rotation as label)",
    ),
}
OBJECTIVES = {
    "info_nce": "InfoNCE (van den Oord et al., 2018): softmax cross-entropy of each query against its positive "
    "among all candidates",
    "nt_xent": "NT-Xent (Chen et al., 2020): both views are anchors, each contrasted with the 2N - 1 other views "
    "of the batch",
    "supcon": "Supervised contrastive loss (Khosla et al., 2020): all samples sharing a label are positives",
    "triplet": "Batch-hard triplet loss (Hermans et al., 2017)",
    "pairwise_contrastive": "Pairwise contrastive loss (Hadsell et al., 2006)",
    "byol": "BYOL (Grill et al., 2020): the online prediction regresses the target projection",
    "simsiam": "SimSiam (Chen & He, 2021): negative cosine between prediction and stop-gradient projection",
    "barlow_twins": "Barlow Twins (Zbontar et al., 2021): cross-correlation of the two views pushed to the identity",
    "vicreg": "VICReg (Bardes et al., 2022): invariance, variance and covariance terms",
    "swav": "SwAV (Caron et al., 2020): swapped prediction of Sinkhorn cluster assignments over prototypes",
}
NEGATIVES = {
    "in_batch": "in-batch: every other example of the batch (and any hard negatives) is a negative",
    "queue": "a FIFO queue of momentum-encoder keys from past batches (MoCo, He et al., 2020)",
    "memory_bank": "an EMA memory of every training sample's embedding (Wu et al., 2018)",
    "none": "none (the objective uses no negatives)",
}
TARGETS = {
    "momentum": "a momentum (EMA) copy of the encoder and head embeds the targets without gradient",
    "stop_gradient": "the targets are the online embeddings with the gradient stopped",
}
TAGS = {
    "simcse_unsup": "simcse",
    "simcse_sup": "simcse",
    "nt_xent": "simclr",
    "supcon": "supcon",
    "info_nce": "info-nce",
    "triplet": "triplet-loss",
    "pairwise_contrastive": "contrastive-loss",
    "byol": "byol",
    "simsiam": "simsiam",
    "barlow_twins": "barlow-twins",
    "vicreg": "vicreg",
    "swav": "swav",
}

def _params(component: dict[str, Any] | None, axis: str) -> dict[str, Any]:
    """A component's parameters with its factory's defaults filled in (falls back to the given ones)."""
    if not component:
        return {}
    values = {k: v for k, v in component.items() if k != "name"}
    try:
        for key, param in parameters_of(_registry(axis).get(component["name"])).items():
            if key not in values and param.default is not inspect.Parameter.empty:
                values[key] = param.default
    except Exception:  # noqa: BLE001 - the card must not fail on an unknown component
        pass
    return values


def _method_section(cfg: Any) -> tuple[str, list[str]]:
    view, objective, negatives, head = cfg.view, cfg.objective, cfg.negatives, cfg.head
    view_name, view_text = VIEWS.get(view["name"], (f"`{view['name']}`", "a custom view"))
    obj_text = OBJECTIVES.get(objective["name"], f"`{objective['name']}`")
    obj_params = _params(objective, "objectives")
    lines = [
        f"- **View** (`{view['name']}`; {key_values(_public_params(view, 'views'))}): {view_name}; {view_text}.",
        f"- **Objective** (`{objective['name']}`): {obj_text}.",
    ]
    if "temperature" in obj_params:
        learnable = obj_params.get("learnable_temperature", False)
        lines.append(
            f"- **Temperature**: {float(obj_params['temperature']):g}"
            + (" (initial value, learned)" if learnable else " (fixed)")
        )
    if "margin" in obj_params:
        lines.append(f"- **Margin**: {float(obj_params['margin']):g} ({obj_params.get('distance', '')} distance)")
    if "normalize" in obj_params:
        lines.append(f"- **Similarity**: {'cosine' if obj_params['normalize'] else 'dot product'} in the loss")
    neg_params = _params(negatives, "negatives")
    neg_text = NEGATIVES.get(negatives["name"], f"`{negatives['name']}`")
    if negatives["name"] == "in_batch":
        neg_text += "; gathered across processes" if neg_params.get("gather", True) else "; per process"
    lines.append(f"- **Negatives** (`{negatives['name']}`): {neg_text}.")
    if head is None:
        lines.append("- **Head**: none.")
    else:
        head_params = _params(head, "heads")
        kept = "kept at evaluation and in this export" if not head_params.get("train_only", True) else (
            "used for the training loss only; embeddings are the encoder output"
        )
        lines.append(f"- **Head** (`{head['name']}`; {key_values(head_params)}): {kept}.")
    target = getattr(cfg, "target", None)
    if target is not None:
        lines.append(f"- **Target** (`{target['name']}`; {key_values(_params(target, 'targets'))}): "
                     f"{TARGETS.get(target['name'], 'custom')}.")
    predictor = getattr(cfg, "predictor", None)
    if predictor is not None:
        lines.append(f"- **Predictor** (`{predictor['name']}`; {key_values(_params(predictor, 'heads'))}): on the online "
                     "branch for the training loss only.")
    tile_head = getattr(cfg, "tile_head", None)
    if tile_head is not None:
        lines.append(f"- **Tile head** (`{tile_head['name']}`; {key_values(_params(tile_head, 'tile_heads'))}): combines the "
                     "encoder's features of each jigsaw tile (each tile encoded on its own) into the jigsaw view's "
                     "embedding, for the training loss only.")
    if getattr(cfg, "symmetric", "none") != "none":
        lines.append(f"- **Symmetric loss**: both directions, {cfg.symmetric}.")
    tags = [TAGS[n] for n in (view["name"], objective["name"]) if n in TAGS]
    if negatives["name"] == "queue" and target is not None:
        tags.append("moco")
    if view["name"] == "two_view_augment" and objective["name"] == "supcon":
        tags = ["supcon"]
    return "\n".join(lines), list(dict.fromkeys(tags))


def _public_params(component: dict[str, Any], axis: str) -> dict[str, Any]:
    return {k: v for k, v in public_value(_params(component, axis), data=True).items() if k not in ("seed", "device")}


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
    method, method_tags = _method_section(cfg)
    base_model = hub_model_id(cfg.encoder.get("model"))
    dataset_id = hub_dataset_id(cfg.data.train)
    front: dict[str, Any] = {
        "library_name": "sentence-transformers" if modality == "text" else "transformers",
        "pipeline_tag": "sentence-similarity" if modality == "text" else "image-feature-extraction",
        "tags": list(
            dict.fromkeys(
                ["contrastive-learning", "mmcontrast", *method_tags]
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
    return write_card(folder, card + common_tail(cfg, metrics, initial_metrics, trained_steps, usage, []))
