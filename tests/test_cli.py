"""The command-line interfaces: ``accelerate launch scripts/train.py`` with 2 processes, then
``mmcontrast evaluate`` and ``mmcontrast export`` on its checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from transformers import AutoModel

from conftest import ROOT
from helpers import accelerate_launch, child_env, run_ok

pytestmark = pytest.mark.slow


def test_accelerate_launch_train_then_evaluate_and_export(tmp_path):
    out = tmp_path / "run"
    overrides = [f"output_dir={out}", "train.max_steps=4", "train.checkpoint_every=2", "train.progress_bar=false"]
    run_ok(accelerate_launch("scripts/train.py", "--config", "configs/quickstart.yaml", *overrides))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train/loss" in r][-1] == 4
    assert {"eval/knn/accuracy"} <= {k for r in rows for k in r}
    assert AutoModel.from_pretrained(out / "final") is not None

    evaluated = run_ok([sys.executable, "-m", "mmcontrast.cli", "evaluate", "--config", "configs/quickstart.yaml",
                     *overrides])
    metrics = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert 0.0 < metrics["knn/accuracy"] <= 1.0
    export = [sys.executable, "-m", "mmcontrast.cli", "export", "--config", "configs/quickstart.yaml", *overrides,
              "--checkpoint", str(out / "checkpoints" / "step-2")]
    refused = subprocess.run(export, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr  # the trained export is not replaced silently
    run_ok([*export, "--overwrite"])
    assert "Trained for 2 steps (a checkpoint of a run planned for 4 steps)" in (out / "final" / "README.md").read_text()
