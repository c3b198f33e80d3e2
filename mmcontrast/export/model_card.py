"""Model card (README.md) of an exported model: Hub metadata, method, data, results, usage and the config.

The card never holds this machine's absolute paths: local files are rendered by file name.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

from ..encoders.loading import PACKAGE_PREFIX

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
DATA_SECTIONS = ("data", "evaluators")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


# ----------------------------------------------------------------------------------------------- paths


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


def _hub_dataset_id(component: dict[str, Any]) -> str | None:
    if component.get("name") != "hf" or component.get("data_files") is not None:
        return None
    path = component.get("path")
    ref = hub_model_id(path)
    return ref if ref is not None and "/" in ref else None


# ----------------------------------------------------------------------------------------------- text


def _params(component: dict[str, Any] | None, axis: str) -> dict[str, Any]:
    """A component's parameters with its factory's defaults filled in (falls back to the given ones)."""
    if not component:
        return {}
    values = {k: v for k, v in component.items() if k != "name"}
    try:
        import inspect

        from ..config import _registry, parameters_of

        for key, param in parameters_of(_registry(axis).get(component["name"])).items():
            if key not in values and param.default is not inspect.Parameter.empty:
                values[key] = param.default
    except Exception:  # noqa: BLE001 - the card must not fail on an unknown component
        pass
    return values


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def _kv(values: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={_fmt(v) if not isinstance(v, str) else v}`" for k, v in values.items()) or "defaults"


def metrics_table(metrics: dict[str, Any] | None, initial_metrics: dict[str, Any] | None) -> str:
    """Markdown table ``Metric | Before training | After training``."""
    metrics, initial_metrics = dict(metrics or {}), dict(initial_metrics or {})
    names = list(metrics) + [k for k in initial_metrics if k not in metrics]
    if not names:
        return "No evaluator was configured for this run."
    rows = ["| Metric | Before training | After training |", "|---|---|---|"]
    for name in names:
        before = _fmt(initial_metrics[name]) if name in initial_metrics else "–"
        after = _fmt(metrics[name]) if name in metrics else "–"
        rows.append(f"| {name} | {before} | {after} |")
    return "\n".join(rows)


def _method_section(cfg: Any) -> tuple[str, list[str]]:
    view, objective, negatives, head = cfg.view, cfg.objective, cfg.negatives, cfg.head
    view_name, view_text = VIEWS.get(view["name"], (f"`{view['name']}`", "a custom view"))
    obj_text = OBJECTIVES.get(objective["name"], f"`{objective['name']}`")
    obj_params = _params(objective, "objectives")
    lines = [
        f"- **View** (`{view['name']}`; {_kv(_public_params(view, 'views'))}): {view_name}; {view_text}.",
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
        lines.append(f"- **Head** (`{head['name']}`; {_kv(head_params)}): {kept}.")
    target = getattr(cfg, "target", None)
    if target is not None:
        lines.append(f"- **Target** (`{target['name']}`; {_kv(_params(target, 'targets'))}): "
                     f"{TARGETS.get(target['name'], 'custom')}.")
    predictor = getattr(cfg, "predictor", None)
    if predictor is not None:
        lines.append(f"- **Predictor** (`{predictor['name']}`; {_kv(_params(predictor, 'heads'))}): on the online "
                     "branch for the training loss only.")
    tile_head = getattr(cfg, "tile_head", None)
    if tile_head is not None:
        lines.append(f"- **Tile head** (`{tile_head['name']}`; {_kv(_params(tile_head, 'tile_heads'))}): combines the "
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


def _data_section(cfg: Any, trained_steps: int | None = None) -> str:
    """The data and training-length paragraph; ``trained_steps`` (the checkpoint's step) wins over the config's
    planned length when they differ (an export of an intermediate checkpoint)."""
    train = public_value(cfg.data.train, data=True)
    name = train.get("name", "?")
    params = {k: v for k, v in train.items() if k != "name"}
    dataset_id = _hub_dataset_id(cfg.data.train)
    source = f" [{dataset_id}](https://huggingface.co/datasets/{dataset_id})," if dataset_id else ""
    t = cfg.train
    length = f"{t.max_steps} steps" if t.max_steps is not None else f"{float(t.epochs):g} epoch(s)"
    if trained_steps == 0:
        length = f"0 steps: this is the model the config starts from, exported untrained (the run plans {length})"
    elif trained_steps is not None and trained_steps != t.max_steps:
        length = f"{trained_steps} steps (a checkpoint of a run planned for {length})"
    return (
        f"Dataset{source} loaded with `{name}` ({_kv(params)}).\n\n"
        f"Trained for {length} with batch size {t.batch_size} (x{t.gradient_accumulation_steps} accumulation), "
        f"{t.optimizer} at learning rate {t.lr} ({t.scheduler} schedule), seed {cfg.seed}."
    )


# ----------------------------------------------------------------------------------------------- usage


def _read_json(path: Path) -> dict[str, Any] | list[Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _text_layout(folder: Path, cfg: Any) -> tuple[str, bool, list[tuple[str, str]]]:
    """(pooling: cls|mean, uses BERT pooler_output, [(dense folder, activation class name)] after pooling)."""
    pooling = cfg.encoder.get("pooling", "cls")
    mode = "mean" if pooling == "mean" else "cls"
    pooling_cfg = _read_json(folder / "1_Pooling" / "config.json")
    if isinstance(pooling_cfg, dict):
        is_cls = pooling_cfg.get("pooling_mode_cls_token") or pooling_cfg.get("pooling_mode") == "cls"
        mode = "cls" if is_cls else "mean"
    denses: list[tuple[str, str]] = []
    modules = _read_json(folder / "modules.json")
    for module in modules if isinstance(modules, list) else []:
        if str(module.get("type", "")).endswith("Dense"):
            dense_cfg = _read_json(folder / module["path"] / "config.json") or {}
            act = str(dense_cfg.get("activation_function", "torch.nn.Identity")).rsplit(".", 1)[-1]
            denses.append((module["path"], act))
    uses_pooler = pooling == "cls" and mode == "cls" and bool(denses) and denses[0][1] == "Tanh" and _has_pooler(folder)
    return mode, uses_pooler, denses[1:] if uses_pooler else denses


def _has_pooler(folder: Path) -> bool:
    try:
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
            return any(key.endswith("pooler.dense.weight") for key in handle.keys())
    except Exception:  # noqa: BLE001
        return False


_ACT_CODE = {"Tanh": "torch.tanh({x})", "ReLU": "torch.relu({x})", "GELU": "torch.nn.functional.gelu({x})",
             "Identity": "{x}"}


def _dense_code(denses: list[tuple[str, str]], var: str) -> str:
    if not denses:
        return ""
    lines = [
        "",
        "# the projection saved beside the backbone (Linear + activation), as Sentence-Transformers applies it",
        "import os",
        "from huggingface_hub import hf_hub_download",
        "from safetensors.torch import load_file",
        "",
        "def model_file(name):",
        "    return os.path.join(MODEL, name) if os.path.isdir(MODEL) else hf_hub_download(MODEL, name)",
        "",
    ]
    for folder, act in denses:
        linear = f"{var} @ dense['linear.weight'].T + dense['linear.bias']"
        lines.append(f"dense = load_file(model_file('{folder}/model.safetensors'))")
        lines.append(f"{var} = " + _ACT_CODE.get(act, "{x}").format(x=linear))
    return "\n".join(lines) + "\n"


def _text_usage(model_ref: str, folder: Path, cfg: Any) -> str:
    mode, uses_pooler, denses = _text_layout(folder, cfg)
    max_length = int(cfg.encoder.get("max_length", 32))
    if uses_pooler:
        pool = "embeddings = out.pooler_output  # BERT pooler: dense + tanh over [CLS]"
    elif mode == "cls":
        pool = "embeddings = out.last_hidden_state[:, 0]  # [CLS] hidden state"
    else:
        pool = (
            "mask = inputs['attention_mask'].unsqueeze(-1).to(out.last_hidden_state.dtype)\n"
            "embeddings = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # masked mean"
        )
    return f"""### Sentence-Transformers

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{model_ref}")
embeddings = model.encode(["A man is playing a guitar.", "Someone plays an instrument."])
print(model.similarity(embeddings, embeddings))  # cosine similarity
```

Embeddings are not normalised (cosine similarity is the intended comparison); texts are truncated to
{max_length} tokens.

### Transformers

```python
import torch
from transformers import AutoModel, AutoTokenizer

MODEL = "{model_ref}"
tokenizer = AutoTokenizer.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL).eval()

texts = ["A man is playing a guitar.", "Someone plays an instrument."]
inputs = tokenizer(texts, padding=True, truncation=True, max_length={max_length}, return_tensors="pt")
with torch.no_grad():
    out = model(**inputs)
{pool}
{_dense_code(denses, "embeddings")}similarity = torch.nn.functional.cosine_similarity(embeddings[:1], embeddings[1:])
```
"""


def _prompts_usage(cfg: Any) -> str:
    """Usage note for role prompts (query / passage prefixes), when the model was trained with them."""
    prompts = dict(getattr(cfg, "prompts", {}) or {})
    if not prompts:
        return ""
    listed = ", ".join(f"`{role}`: `{text!r}`" for role, text in prompts.items())
    return f"""
### Prompts

Trained with a text prefix per role ({listed}); the Sentence-Transformers folder stores them as its prompts:

```python
query_embeddings = model.encode(["what is contrastive learning?"], prompt_name="query")
passage_embeddings = model.encode(["Contrastive learning pulls positives together ..."], prompt_name="passage")
```

With plain `transformers`, put the same prefix before each text yourself.
"""


def _two_tower_usage(model_ref: str, cfg: Any) -> str:
    """Usage of a DPR-style export: ``query/`` and ``passage/`` are separate Sentence-Transformers folders."""
    return f"""### Two towers (separate query and passage encoders)

This export holds two complete Sentence-Transformers (and `transformers`) folders: `query/` embeds questions,
`passage/` embeds the documents to search. Compare them with cosine similarity.

```python
from sentence_transformers import SentenceTransformer

queries = SentenceTransformer("{model_ref}/query")
passages = SentenceTransformer("{model_ref}/passage")
scores = queries.similarity(queries.encode(["what is contrastive learning?"]),
                            passages.encode(["Contrastive learning pulls positives together ..."]))
```

(For a Hub repository, download it first: `huggingface_hub.snapshot_download("{model_ref}")` and use the local
path.) Each folder also loads with `AutoModel.from_pretrained(...)` and the pooling of the text encoder
(`{cfg.encoder.get("pooling", "cls")}`).
{_prompts_usage(cfg)}"""


def _vision_usage(model_ref: str, folder: Path, cfg: Any) -> str:
    channels = _num_channels(folder, cfg)
    size = int(cfg.encoder.get("image_size", 32))
    head = [("head", _head_activation(folder))] if (folder / "head" / "config.json").is_file() else []
    if channels == 1:
        load = 'images = [Image.open("image.png").convert("L")]  # 1-channel (grayscale) model'
        note = (
            "This is a **1-channel (grayscale)** model: pass PIL images in mode `\"L\"` (`.convert(\"L\")`), "
            "uint8 arrays of shape (H, W, 1), or uint8 tensors of shape (1, H, W); the processor keeps "
            "the single channel."
        )
    else:
        load = 'images = [Image.open("image.png").convert("RGB")]'
        note = f"Pass PIL images, uint8 arrays (H, W, {channels}) or uint8 tensors ({channels}, H, W)."
    return f"""### Transformers

```python
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModel

MODEL = "{model_ref}"
processor = AutoImageProcessor.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL).eval()

{load}
inputs = processor(images, return_tensors="pt")
with torch.no_grad():
    out = model(**inputs)
pooled = getattr(out, "pooler_output", None)
features = pooled.flatten(1) if pooled is not None else out.last_hidden_state[:, 0]
{_dense_code(head, "features")}```

{note} The processor resizes to {size}x{size} (bilinear), rescales by 1/255 and normalises with the
training mean/std. Features equal mmcontrast's exactly for uint8 images of size {size}x{size}; other sizes are
resized by PIL instead of torch's antialiased bilinear and agree closely but not bit for bit. Compare features
with cosine similarity.
"""


def _num_channels(folder: Path, cfg: Any) -> int:
    config = _read_json(folder / "config.json")
    if isinstance(config, dict) and "num_channels" in config:
        return int(config["num_channels"])
    return int((cfg.encoder.get("config") or {}).get("num_channels", 3))


def _head_activation(folder: Path) -> str:
    config = _read_json(folder / "head" / "config.json") or {}
    return str(config.get("activation_function", "Identity")).rsplit(".", 1)[-1]


# ----------------------------------------------------------------------------------------------- card


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
    dataset_id = _hub_dataset_id(cfg.data.train)
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
    settings = _kv({k: v for k, v in encoder.items() if k != "name"})
    if modality == "text" and (folder / "query").is_dir() and (folder / "passage").is_dir():
        usage = _two_tower_usage(model_ref, cfg)
    elif modality == "text":
        usage = _text_usage(model_ref, folder, cfg) + _prompts_usage(cfg)
    else:
        usage = _vision_usage(model_ref, folder, cfg)
    config_yaml = yaml.safe_dump(public_config(cfg), sort_keys=False)
    card = f"""---
{yaml.safe_dump(front, sort_keys=False).strip()}
---

# {cfg.name}

A {modality} encoder trained with contrastive learning by mmcontrast, starting from {backbone}.
Encoder settings: {settings}.

## Method

{method}

## Training data

{_data_section(cfg, trained_steps)}

## Evaluation results

{metrics_table(metrics, initial_metrics)}

## Usage

{usage}
## Training configuration

The full mmcontrast config of this run (local paths shown by file name; also in `mmcontrast_config.yaml`):

```yaml
{config_yaml.rstrip()}
```
"""
    readme = folder / "README.md"
    readme.write_text(card, encoding="utf-8")
    return readme
