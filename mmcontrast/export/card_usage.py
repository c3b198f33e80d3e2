"""Usage snippets of a model card: Sentence-Transformers / ``transformers`` code that matches the exported files.

The snippets read the export folder (pooling config, Dense modules, the backbone's pooler, channels) so the code
on the card reproduces mmcontrast's embeddings exactly; tests execute them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open


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


def text_usage(model_ref: str, folder: Path, cfg: Any) -> str:
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


def prompts_usage(cfg: Any) -> str:
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


def two_tower_usage(model_ref: str, cfg: Any) -> str:
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
{prompts_usage(cfg)}"""


def vision_usage(model_ref: str, folder: Path, cfg: Any) -> str:
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
