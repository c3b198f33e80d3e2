"""The sections every model card shares: front matter, training data, results table, citations and the config.

Both cards (the encoder card of ``model_card.py`` and the image-text card of ``dual_encoder_card.py``) end with
:func:`common_tail`; only their method and usage sections differ.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from .card_paths import hub_dataset_id, public_config, public_value


def format_value(value: Any) -> str:
    """A metric or parameter as card text: floats with 4 decimals, containers as JSON."""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def key_values(values: dict[str, Any]) -> str:
    """```a=1`, `b=x``` (or ``defaults`` when empty)."""
    return ", ".join(f"`{k}={format_value(v) if not isinstance(v, str) else v}`" for k, v in values.items()) or (
        "defaults"
    )


def results_table(metrics: dict[str, Any] | None, initial_metrics: dict[str, Any] | None) -> str:
    """Markdown table ``Metric | Before training | After training``."""
    metrics, initial_metrics = dict(metrics or {}), dict(initial_metrics or {})
    names = list(metrics) + [k for k in initial_metrics if k not in metrics]
    if not names:
        return "No evaluator was configured for this run."
    rows = ["| Metric | Before training | After training |", "|---|---|---|"]
    for name in names:
        before = format_value(initial_metrics[name]) if name in initial_metrics else "–"
        after = format_value(metrics[name]) if name in metrics else "–"
        rows.append(f"| {name} | {before} | {after} |")
    return "\n".join(rows)


def data_section(cfg: Any, trained_steps: int | None = None) -> str:
    """The data and training-length paragraph; ``trained_steps`` (the checkpoint's step) wins over the config's
    planned length when they differ (an export of an intermediate checkpoint)."""
    train = public_value(cfg.data.train, data=True)
    name = train.get("name", "?")
    params = {k: v for k, v in train.items() if k != "name"}
    dataset_id = hub_dataset_id(cfg.data.train)
    source = f" [{dataset_id}](https://huggingface.co/datasets/{dataset_id})," if dataset_id else ""
    t = cfg.train
    length = f"{t.max_steps} steps" if t.max_steps is not None else f"{float(t.epochs):g} epoch(s)"
    if trained_steps == 0:
        length = f"0 steps: this is the model the config starts from, exported untrained (the run plans {length})"
    elif trained_steps is not None and trained_steps != t.max_steps:
        length = f"{trained_steps} steps (a checkpoint of a run planned for {length})"
    return (
        f"Dataset{source} loaded with `{name}` ({key_values(params)}).\n\n"
        f"Trained for {length} with batch size {t.batch_size} (x{t.gradient_accumulation_steps} accumulation), "
        f"{t.optimizer} at learning rate {t.lr} ({t.scheduler} schedule), seed {cfg.seed}."
    )


def citations_section(citations: list[str]) -> str:
    """``## Citation``: the BibTeX of every paper the run's components implement (empty without any)."""
    if not citations:
        return ""
    blocks = "\n\n".join(f"```bibtex\n{citation.strip()}\n```" for citation in dict.fromkeys(citations))
    return f"## Citation\n\nThe papers this run's components implement:\n\n{blocks}\n\n"


def front_matter(front: dict[str, Any]) -> str:
    """The Hub metadata block (YAML between ``---`` lines)."""
    return f"---\n{yaml.safe_dump(front, sort_keys=False).strip()}\n---\n"


def common_tail(
    cfg: Any,
    metrics: dict[str, Any] | None,
    initial_metrics: dict[str, Any] | None,
    trained_steps: int | None,
    usage: str,
    citations: list[str],
) -> str:
    """Training data, evaluation results, ``usage`` (markdown ending in a newline), citations and the config."""
    config_yaml = yaml.safe_dump(public_config(cfg), sort_keys=False)
    return f"""## Training data

{data_section(cfg, trained_steps)}

## Evaluation results

{results_table(metrics, initial_metrics)}

## Usage

{usage}
{citations_section(citations)}## Training configuration

The full mmcontrast config of this run (local paths shown by file name; also in `mmcontrast_config.yaml`):

```yaml
{config_yaml.rstrip()}
```
"""


def write_card(folder: Path, text: str) -> Path:
    """Write ``<folder>/README.md`` and return its path."""
    readme = folder / "README.md"
    readme.write_text(text, encoding="utf-8")
    return readme
