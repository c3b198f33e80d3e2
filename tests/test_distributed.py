"""Cross-process negatives: 2 CPU processes (gloo) must give the same loss and the same parameter update after
one optimizer step as 1 process over the concatenated batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import MINILM, ROOT, TINY_BERT, shared

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("distributed_train_script.py")


def write_config(tmp_path: Path, with_negatives: bool) -> Path:
    rows = shared("nli", "snli_dev_triplets.tsv.gz")
    cfg = {
        "data": {"train": {"name": "tsv", "path": str(rows), "limit": 8}, "shuffle": False},
        "view": {"name": "simcse_sup", "negative": "negative" if with_negatives else None},
        "encoder": {
            "name": "text", "config": {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
            "tokenizer": MINILM, "pooling": "mean", "max_length": 24,
        },
        "objective": {"name": "info_nce", "temperature": 0.05},
        "train": {"max_steps": 1, "optimizer": "sgd", "lr": 1.0, "momentum": 0.0, "scheduler": "constant",
                  "log_every": 1, "eval_at_start": False, "progress_bar": False},
        "export": {"enabled": False},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(config: Path, output: Path, processes: int, batch_size: int, *extra: str) -> tuple[float, dict]:
    """Train one step with ``processes`` processes; return the logged (global mean) loss and the parameters."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    overrides = [f"output_dir={output}", f"train.batch_size={batch_size}", *extra]
    if processes == 1:
        cmd = [sys.executable, str(SCRIPT), str(config), *overrides]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", "29517", str(SCRIPT), str(config), *overrides]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    loss = next(r["train/loss"] for r in rows if "train/loss" in r)
    return loss, torch.load(output / "params.pt")


@pytest.mark.parametrize("with_negatives", [False, True], ids=["in_batch", "hard_negatives"])
def test_two_processes_equal_one_process_over_concatenated_batch(tmp_path, with_negatives):
    config = write_config(tmp_path, with_negatives)
    loss1, params1 = run(config, tmp_path / "one", 1, 8)
    loss2, params2 = run(config, tmp_path / "two", 2, 4)
    _, initial = run(config, tmp_path / "zero", 1, 8, "train.lr=0.0")  # same seeded init, no update
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert params1.keys() == params2.keys()
    largest_update = 0.0
    for key in params1:
        update1, update2 = params1[key] - initial[key], params2[key] - initial[key]
        assert torch.allclose(update1, update2, atol=1e-5, rtol=0), key
        largest_update = max(largest_update, update1.abs().max().item())
    # lr=1 SGD: the update is the gradient; it must be real for the equality to mean anything
    assert largest_update > 1e-3
