"""Model card (README.md) of an image-text export: method, towers, data, results, zero-shot usage and config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .card_components import run_citations, run_tags, summary
from .card_paths import hub_model_id, public_value
from .card_sections import common_tail, front_matter, key_values, write_card

def _tower_text(settings: dict[str, Any], kind: str) -> str:
    ref = settings.get("model")
    hub = hub_model_id(ref)
    if hub:
        start = f"[{hub}](https://huggingface.co/{hub})"
    elif ref:
        start = f"`{public_value(ref)}`"
    else:
        start = f"a randomly initialised {(settings.get('config') or {}).get('model_type', kind)} built from a config"
    rest = {k: v for k, v in public_value(settings).items() if k not in ("model", "config")}
    return f"{start} ({key_values(rest)})" if rest else start


def write_dual_encoder_card(
    path: str | Path, cfg: Any, metrics: dict[str, Any] | None, initial_metrics: dict[str, Any] | None = None,
    trained_steps: int | None = None,
) -> Path:
    """Write ``<path>/README.md`` for a ``VisionTextDualEncoderModel`` export and return its path."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    enc = cfg.encoder
    vision, text = enc.get("vision") or {}, enc.get("text") or {}
    objective = cfg.objective["name"]
    locks = [name for name, key in (("vision", "lock_vision"), ("text", "lock_text")) if enc.get(key)]
    lock_text = {0: "both towers trained", 1: f"{locks[0] if locks else ''} tower locked (LiT)",
                 2: "both towers locked: only the projections and the logit scale trained"}[len(locks)]
    front: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "zero-shot-image-classification",
        "tags": list(dict.fromkeys(["contrastive-learning", "mmcontrast", "vision-text-dual-encoder", objective,
                                    *run_tags(cfg)])),
    }
    bases = [b for b in (hub_model_id(vision.get("model")), hub_model_id(text.get("model"))) if b]
    if bases:
        front["base_model"] = bases
    model_ref = cfg.export.hub_repo_id or "path/to/final"
    usage = f"""```python
from transformers import pipeline

classifier = pipeline("zero-shot-image-classification", model="{model_ref}")
classifier("image.png", candidate_labels=["sneaker", "bag", "coat"], hypothesis_template="a photo of a {{}}.")
```

Embeddings (projected, not normalised; compare them with cosine similarity):

```python
import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

model = AutoModel.from_pretrained("{model_ref}").eval()
processor = AutoProcessor.from_pretrained("{model_ref}")
with torch.no_grad():
    image_embeds = model.get_image_features(**processor(images=[Image.open("image.png").convert("RGB")],
                                                        return_tensors="pt")).pooler_output
    text_embeds = model.get_text_features(**processor(text=["a photo of a sneaker."], padding=True,
                                                      return_tensors="pt")).pooler_output
similarity = torch.nn.functional.cosine_similarity(image_embeds, text_embeds)
```

They equal mmcontrast's embeddings; the image processor resizes with PIL's bilinear filter exactly as training
did. Captions longer than {text.get("max_length", 32)} tokens were truncated in training: pass
`truncation=True, max_length={text.get("max_length", 32)}` to the processor to do the same.
"""
    projections = f"bias-free linear maps of both pooled outputs to {enc.get('projection_dim', 512)} dimensions"
    logit_scale = f"learned from 1/{enc.get('temperature', 0.07)}, clamped to at most {enc.get('max_logit_scale', 100)}"
    card = f"""{front_matter(front)}
# {cfg.name}

An image-text dual encoder trained with contrastive learning by mmcontrast, saved as a `transformers`
`VisionTextDualEncoderModel` with its processor.

## Method

- **View** (`{cfg.view["name"]}`): {summary(cfg.view, "views")}.
- **Vision tower**: {_tower_text(vision, "vision model")}.
- **Text tower**: {_tower_text(text, "text model")}.
- **Projections**: {projections}; {lock_text}.
- **Objective** (`{objective}`): {summary(cfg.objective, "objectives")}; negatives: every other caption (and
  image) of the batch, gathered across processes.
- **Logit scale**: {logit_scale}.

"""
    tail = common_tail(cfg, metrics, initial_metrics, trained_steps, usage, run_citations(cfg))
    return write_card(folder, card + tail)
