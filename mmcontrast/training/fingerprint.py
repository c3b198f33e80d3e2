"""What ties a checkpoint to the run that wrote it: the config tree, and which of its keys may change on resume.

Every checkpoint stores the config it was trained with. Resuming (and ``mmcontrast export`` / ``evaluate``) compares
it with the config given now: keys that only schedule, log, evaluate or export the run (``SAFE_TO_CHANGE``) may
differ, with a notice; any other difference (lr, batch size, model, data, objective, seed, ...) would silently
train or describe a different run than the one in the folder, so it is refused unless forced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

# dotted keys (or prefixes ending in '.') that may change between a checkpoint and the config resuming it
SAFE_TO_CHANGE: tuple[str, ...] = (
    "name", "output_dir", "evaluators", "export.",
    "train.max_steps", "train.epochs",  # more (or fewer, up to the checkpoint's step) steps: the schedule follows
    "train.log_every", "train.eval_every", "train.eval_at_start", "train.checkpoint_every", "train.keep_checkpoints",
    "train.resume", "train.log_with", "train.progress_bar", "train.collective_timeout", "train.compile",
    "train.compile_backend", "data.num_workers",
)


def config_tree(cfg: Any) -> dict[str, Any]:
    """``cfg`` (a Config dataclass or a nested dict) as plain JSON data (tuples become lists)."""
    tree = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg
    return json.loads(json.dumps(tree, default=str))


def flat_keys(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> ``{dotted.key: leaf}`` (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flat_keys(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def is_safe_change(key: str) -> bool:
    return any(key == safe or (safe.endswith(".") and key.startswith(safe)) or key.startswith(safe + ".")
               for safe in SAFE_TO_CHANGE)


def fingerprint(tree: dict[str, Any]) -> str:
    """A short hash of the config keys that define the trained weights (everything but ``SAFE_TO_CHANGE``)."""
    kept = {k: v for k, v in flat_keys(config_tree(tree)).items() if not is_safe_change(k)}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ConfigChanges:
    """Differences between a checkpoint's config and the current one, as ``key: old -> new`` lines."""

    unsafe: list[str]
    safe: list[str]


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> ConfigChanges:
    """Compare two config trees key by key."""
    old, new = flat_keys(config_tree(saved)), flat_keys(config_tree(current))
    unsafe, safe = [], []
    for key in sorted(set(old) | set(new)):
        if old.get(key, "(unset)") == new.get(key, "(unset)"):
            continue
        line = f"{key}: {_short(old.get(key, '(unset)'))} -> {_short(new.get(key, '(unset)'))}"
        (safe if is_safe_change(key) else unsafe).append(line)
    return ConfigChanges(unsafe, safe)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."
