"""The run's ``Accelerator``: precision, gradient accumulation, trackers, the process group (a CPU launch of
several processes included) and its timeout."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState
from accelerate.utils import InitProcessGroupKwargs, ProjectConfiguration

from ..config import Config
from ..errors import ConfigError
from .trackers import JSONLTracker


def build_accelerator(cfg: Config, output_dir: Path) -> Accelerator:
    """The Accelerator of ``cfg``'s run, logging into ``output_dir``; ConfigError for fp16 on a CPU."""
    t = cfg.train
    _release_other_precision(t.mixed_precision)
    accelerator = Accelerator(
        cpu=_distributed_cpu_launch(),
        mixed_precision=t.mixed_precision,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        log_with=_trackers(t.log_with, cfg.name, output_dir),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir)),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(seconds=t.collective_timeout))],
    )
    _check_precision(t.mixed_precision, accelerator.device)
    return accelerator


def _check_precision(mixed_precision: str, device: torch.device) -> None:
    """fp16 needs an accelerator: on CPU Accelerate applies neither float16 autocast nor loss scaling, and the run
    would silently train in float32."""
    if mixed_precision == "fp16" and device.type == "cpu":
        raise ConfigError("train.mixed_precision=fp16 needs a GPU (on CPU Accelerate applies neither float16 autocast "
                         "nor loss scaling, so the run would silently train in float32); use bf16 on CPU")


def _release_other_precision(mixed_precision: str) -> None:
    """Accelerate keeps one process-wide ``AcceleratorState`` and refuses an Accelerator of another precision in
    the same process (a bf16 run after a float32 one, in a notebook or a test session): forget the previous run's
    precision state (the process group, in ``PartialState``, is kept)."""
    shared = AcceleratorState._shared_state
    if shared and str(shared.get("_mixed_precision", mixed_precision)) != mixed_precision:
        AcceleratorState._reset_state()


def _distributed_cpu_launch() -> bool:
    """``accelerate launch --multi_gpu`` on a machine without CUDA starts N processes whose Accelerator only
    forms a (gloo) process group when told it runs on CPU; without this each process trains alone."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def _trackers(names: list[str], run_name: str, output_dir: Path) -> list[Any] | None:
    """Accelerate trackers by name (``jsonl`` is ours; tensorboard, wandb, ... are Accelerate's)."""
    return [JSONLTracker(run_name, output_dir) if n == "jsonl" else n for n in names] or None
