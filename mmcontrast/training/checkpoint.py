"""Atomic, code-free checkpoints and exact resume.

A checkpoint is written to ``checkpoints/.tmp-step-N`` and renamed to ``checkpoints/step-N`` only once complete
(``training_state.json`` written last), so a run killed mid-save leaves the previous checkpoint intact and loadable.
Accelerate saves model (safetensors), optimizer, sampler and RNG states (per process); we add the step counter,
the learning-rate scheduler's state, the views' generator states and the config the run was trained with (see
``fingerprint``), all as JSON or tensors.

Nothing in a checkpoint is unpickled as code: JSON for our state, ``torch.load(weights_only=True)`` for tensors
(Accelerate loads its files the same way), and no ``register_for_checkpointing`` object, whose file Accelerate
loads with ``weights_only=False``. A file that holds anything but plain data is refused, not executed.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from ..errors import RunError
from .strict_json import dumps

STATE_FILE = "training_state.json"
PREFIX = "step-"
_STEP_FOLDER = re.compile(rf"^{PREFIX}(\d+)$")
LEGACY_SCHEDULER_FILE = "custom_checkpoint_0.pkl"  # written by earlier versions via register_for_checkpointing
T = TypeVar("T")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def checkpoint_step(path: Path) -> int | None:
    """N for a folder named ``step-N``; None for anything else (``step-35-backup``, ``.tmp-step-4``, ...)."""
    match = _STEP_FOLDER.match(path.name)
    return int(match.group(1)) if match else None


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete ``step-N`` checkpoints (state file written), newest first. Other folders are ignored."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if checkpoint_step(p) is not None and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: checkpoint_step(p) or 0, reverse=True)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    complete = complete_checkpoints(output_dir)
    return complete[0] if complete else None


def read_state(path: Path) -> dict[str, Any]:
    """The JSON training state of checkpoint ``path`` (step, epoch, scheduler, config, ...)."""
    state = json.loads((path / STATE_FILE).read_text())
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ValueError(f"{STATE_FILE} has no integer 'step'")
    return state


def save_checkpoint(accelerator: Any, output_dir: str | Path, step: int, state: dict[str, Any],
                    generator: torch.Generator | None, keep: int, scheduler: Any = None) -> Path:
    """Collective: every process calls it. Returns the final checkpoint path. ``keep`` (>= 1) newest
    checkpoints are kept; a full disk stops the run with a message and leaves the previous checkpoint intact."""
    root = checkpoint_root(output_dir)
    final = root / f"{PREFIX}{step}"
    tmp = root / f".tmp-{PREFIX}{step}"
    try:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        if generator is not None:
            torch.save(generator.get_state(), tmp / f"view_generator_{accelerator.process_index}.pt")
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            full = {**state, "step": step}
            if scheduler is not None:
                full["scheduler"] = scheduler.state_dict()
            (tmp / STATE_FILE).write_text(dumps(full, indent=2))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            _prune(root, keep)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        previous = latest_checkpoint(output_dir)
        raise RunError(f"no space left on the device while writing checkpoint {final} ({_free(root)} free): free "
                       f"some space or lower train.keep_checkpoints; the last complete checkpoint is "
                       f"{previous if previous is not None else '(none)'}") from None
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, path: Path, generator: torch.Generator | None,
                    scheduler: Any = None) -> dict[str, Any]:
    """Restore model/optimizer/RNG, the scheduler and the views' generator; returns the training state.
    Raises RunError for a file that holds code instead of plain data."""
    state = read_state(path)
    try:
        accelerator.load_state(str(path))
        gen_file = path / f"view_generator_{accelerator.process_index}.pt"
        if generator is not None and gen_file.is_file():
            generator.set_state(torch.load(gen_file, weights_only=True))
        if scheduler is not None:
            if "scheduler" in state:
                scheduler.load_state_dict(state["scheduler"])
            elif (path / LEGACY_SCHEDULER_FILE).is_file():
                scheduler.load_state_dict(torch.load(path / LEGACY_SCHEDULER_FILE, weights_only=True))
    except pickle.UnpicklingError as err:
        raise RunError(f"checkpoint {path} holds a file that is not plain tensor data (refused to unpickle it: "
                       f"{str(err).splitlines()[0][:120]}); do not resume from a checkpoint you did not write"
                       ) from None
    return state


def newest_that_loads(candidates: list[Path], load: Callable[[Path], T]) -> tuple[Path, T]:
    """``load`` the first of ``candidates`` (newest first) that loads; a damaged one (truncated file, bad JSON: any
    error but a RunError, which refuses) is reported on stderr and the next older one is tried. RunError when none
    loads."""
    broken: list[str] = []
    reason = ""
    for path in candidates:
        try:
            loaded = load(path)
        except RunError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure to read a checkpoint means: try the previous one
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
            broken.append(path.name)
            print(f"mmcontrast: checkpoint {path} cannot be loaded ({reason}); trying the previous one",
                  file=sys.stderr)
            continue
        if broken:
            print(f"mmcontrast: using {path.name}, the newest checkpoint that loads "
                  f"(skipped: {', '.join(broken)})", file=sys.stderr)
        return path, loaded
    where = candidates[0].parent if candidates else "(none)"
    raise RunError(f"no checkpoint in {where} loads (tried {', '.join(broken)}; last error {reason}): restore one, "
                   "point --checkpoint at another, or start over with --overwrite")


def load_newest_loadable(accelerator: Any, candidates: list[Path], generator: torch.Generator | None,
                         scheduler: Any = None) -> tuple[Path, dict[str, Any]]:
    """Restore the newest of ``candidates`` that loads into the run (``newest_that_loads``)."""
    return newest_that_loads(candidates, lambda path: load_checkpoint(accelerator, path, generator, scheduler))


def _prune(root: Path, keep: int) -> None:
    complete = sorted((p for p in root.iterdir() if checkpoint_step(p) is not None),
                      key=lambda p: checkpoint_step(p) or 0)
    for old in complete[: max(0, len(complete) - max(1, keep))]:
        shutil.rmtree(old, ignore_errors=True)


def _free(path: Path) -> str:
    try:
        return f"{shutil.disk_usage(path if path.exists() else path.parent).free / 2**20:.0f} MiB"
    except OSError:  # pragma: no cover
        return "unknown space"
