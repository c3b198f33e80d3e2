"""The rules of a run's output folder: one run per folder, what resume may pick up, what ``--overwrite`` clears.

A folder holds ONE run lineage: its checkpoints (each with the config it was trained with), its metrics, and its
export ``final/``. A new run in a used folder must either resume that run (same config up to the keys that are
safe to change, see ``fingerprint``) or be told to replace it (``--overwrite``).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunError
from .checkpoint import checkpoint_root, checkpoint_step, complete_checkpoints, read_state
from .fingerprint import config_changes

FINAL = "final"
METRICS = "metrics.jsonl"
RUN_FILES = ("config.yaml", "run_config.json", METRICS)  # written by every run, replaced by the next


def check_writable(output_dir: Path) -> None:
    """``output_dir`` is (or can be made) a writable folder: checked before anything is built or trained."""
    if output_dir.exists() and not output_dir.is_dir():
        raise RunError(f"output_dir {output_dir} is a file, not a folder: choose another output_dir")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise RunError(f"cannot write to output_dir {output_dir} ({err.strerror or err}): choose a writable "
                       "output_dir") from None


def is_used(output_dir: Path) -> list[str]:
    """What a previous run left in ``output_dir`` that a fresh run would lose: checkpoints, an export."""
    found = []
    root = checkpoint_root(output_dir)
    if root.is_dir() and any(checkpoint_step(p) is not None for p in root.iterdir()):
        found.append(str(root))
    if (output_dir / FINAL).exists():
        found.append(str(output_dir / FINAL))
    return found


@dataclass(frozen=True)
class StartPlan:
    """Where a run starts: ``candidates`` (newest first) to resume from, or none for a fresh start."""

    candidates: list[Path]
    notices: list[str]


def plan_start(output_dir: Path, tree: dict[str, Any], total_steps: int | None, resume: bool, overwrite: bool,
               force: bool) -> StartPlan:
    """Decide how a run starts in ``output_dir`` without changing anything (every process may call it).

    Raises RunError for a used folder with ``resume=false`` (unless ``overwrite``), for a checkpoint whose config
    differs in keys that define the weights (unless ``force``) or that is past this config's last step."""
    if overwrite:
        return StartPlan([], [])
    used = is_used(output_dir)
    candidates = complete_checkpoints(output_dir)
    if not resume:
        if used:
            raise RunError(f"train.resume=false but {output_dir} holds a previous run ({', '.join(used)}): pass "
                           "--overwrite to delete it and start over, or use another output_dir")
        return StartPlan([], [])
    if not candidates:
        if used:
            raise RunError(f"{output_dir} holds a previous run ({', '.join(used)}) but no complete checkpoint to "
                           "resume: pass --overwrite to delete it and start over, or use another output_dir")
        return StartPlan([], [])
    newest = candidates[0]
    try:
        state = read_state(newest)
    except (OSError, ValueError):
        return StartPlan(candidates, [])  # a broken newest checkpoint: the loader reports it and falls back
    notices = check_resumable(newest, state, tree, force, what="resume")
    if total_steps is not None and state["step"] > total_steps:
        raise RunError(f"checkpoint {newest} is at step {state['step']}, past this config's {total_steps} steps: "
                       "raise train.max_steps, or pass --overwrite to start over, or use another output_dir")
    return StartPlan(candidates, notices)


def check_resumable(path: Path, state: dict[str, Any], tree: dict[str, Any], force: bool, what: str) -> list[str]:
    """Compare checkpoint ``path``'s config with ``tree``; RunError listing the differing keys that define the
    weights unless ``force``; returns notices for the safe changes (and the forced ones)."""
    saved = state.get("config")
    if saved is None:
        return [f"checkpoint {path} records no config (written by an earlier version): its config is not checked"]
    changes = config_changes(saved, tree)
    notices = [f"changed since {path.name}: {line}" for line in changes.safe]
    if changes.unsafe:
        if not force:
            raise RunError(f"the config differs from the one checkpoint {path} was trained with: "
                           f"{'; '.join(changes.unsafe)}. Restore those values, use another output_dir, or pass "
                           f"--allow-config-change to {what} anyway (the checkpoint's optimizer and schedule state "
                           "win)")
        notices += [f"FORCED, differs from {path.name}: {line}" for line in changes.unsafe]
    return notices


def clear_run(output_dir: Path) -> None:
    """``--overwrite``: delete the previous run's checkpoints, export and logs (the lock file stays)."""
    shutil.rmtree(checkpoint_root(output_dir), ignore_errors=True)
    shutil.rmtree(output_dir / FINAL, ignore_errors=True)
    for name in RUN_FILES:
        (output_dir / name).unlink(missing_ok=True)


def trim_metrics(output_dir: Path, through_step: int) -> None:
    """Keep the rows of ``metrics.jsonl`` logged at steps <= ``through_step`` (the checkpoint a run resumes
    from): the steps after it are trained again and logged again, never twice. ``through_step`` 0 keeps none."""
    path = output_dir / METRICS
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if through_step > 0 and isinstance(row.get("step"), int) and row["step"] <= through_step:
            kept.append(line)
    tmp = path.with_name(f".{METRICS}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)
