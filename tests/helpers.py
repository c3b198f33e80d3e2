"""What the test files share beyond conftest's paths: writing a config file, and running a script in one process
or in 2 CPU processes under ``accelerate launch --multi_gpu`` (DDP over gloo) to compare the two."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from conftest import ROOT

# one optimizer step of plain SGD (lr 1: the update is the gradient), logged every step, nothing else on
SGD_STEP = {"max_steps": 1, "optimizer": "sgd", "lr": 1.0, "momentum": 0.0, "scheduler": "constant", "log_every": 1,
            "eval_at_start": False, "progress_bar": False}


def write_config(path: Path, tree: dict[str, Any]) -> Path:
    """Write the config ``tree`` as YAML to ``path`` (a folder: to its ``config.yaml``) -> the file written."""
    path = path / "config.yaml" if path.is_dir() else path
    path.write_text(yaml.safe_dump(tree))
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a test's child process: offline, one thread per process (the processes share the
    cores; more threads only slow them down), plus ``extra``."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", **extra}


def free_port() -> int:
    """A TCP port free right now, for the rendezvous of one launch (a fixed port clashes with a concurrent run)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accelerate_launch(script: str | Path, *args: str, processes: int = 2, port: int | None = None) -> list[str]:
    """The command that runs ``script args`` in ``processes`` CPU processes through ``accelerate launch``."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(port or free_port()), str(script), *args]


def script_command(script: str | Path, *args: str, processes: int = 1) -> list[str]:
    """``python script args`` for one process, ``accelerate launch`` of it for more."""
    if processes == 1:
        return [sys.executable, str(script), *args]
    return accelerate_launch(script, *args, processes=processes)


def run_ok(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``cmd`` from the repository root in ``child_env()``; assert it succeeded (else show its stderr)."""
    done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def logged_loss_and_state(output: Path) -> tuple[float, dict[str, torch.Tensor]]:
    """The first logged ``train/loss`` (the global mean) of a run in ``output`` and the state it saved to
    ``params.pt`` (tests/distributed_train_script.py and tests/toolbox_distributed_script.py save it)."""
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    loss = next(r["train/loss"] for r in rows if "train/loss" in r)
    return loss, torch.load(output / "params.pt")


TRAIN_SCRIPT = Path(__file__).with_name("distributed_train_script.py")


def train_in_processes(config: Path, output: Path, processes: int, batch_size: int,
                       *overrides: str) -> tuple[float, dict[str, torch.Tensor]]:
    """Train ``config`` with ``processes`` processes of ``batch_size`` rows each (tests/distributed_train_script.py)
    -> (the logged global-mean loss of the first step, the learner's state after the run)."""
    args = [str(config), f"output_dir={output}", f"train.batch_size={batch_size}", *overrides]
    run_ok(script_command(TRAIN_SCRIPT, *args, processes=processes))
    return logged_loss_and_state(output)
