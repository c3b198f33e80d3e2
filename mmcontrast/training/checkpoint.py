"""Atomic checkpoints and exact resume.

A checkpoint is written to ``checkpoints/.tmp-step-N`` and renamed to ``checkpoints/step-N`` only once
complete (``training_state.json`` written last), so a run killed mid-save leaves the previous checkpoint
intact and loadable. Accelerate saves model, optimizer, scheduler and RNG states (per process); we add the
step counter and the views' generator states.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "training_state.json"
PREFIX = "step-"


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return None
    complete = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()]
    if not complete:
        return None
    return max(complete, key=lambda p: int(p.name[len(PREFIX) :]))


def save_checkpoint(accelerator: Any, output_dir: str | Path, step: int, state: dict[str, Any],
                    generator: torch.Generator | None, keep: int) -> Path:
    """Collective: every process calls it. Returns the final checkpoint path."""
    root = checkpoint_root(output_dir)
    final = root / f"{PREFIX}{step}"
    tmp = root / f".tmp-{PREFIX}{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if generator is not None:
        torch.save(generator.get_state(), tmp / f"view_generator_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _prune(root, keep)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, path: Path, generator: torch.Generator | None) -> dict[str, Any]:
    """Restore model/optimizer/scheduler/RNG and the views' generator; returns the training state."""
    accelerator.load_state(str(path))
    gen_file = path / f"view_generator_{accelerator.process_index}.pt"
    if generator is not None and gen_file.is_file():
        generator.set_state(torch.load(gen_file))
    return json.loads((path / STATE_FILE).read_text())


def _prune(root: Path, keep: int) -> None:
    complete = sorted(
        (p for p in root.iterdir() if p.name.startswith(PREFIX)), key=lambda p: int(p.name[len(PREFIX) :])
    )
    for old in complete[: max(0, len(complete) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
