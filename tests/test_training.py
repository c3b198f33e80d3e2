"""train(cfg) end to end: learning on real images, exact resume after a kill, and clear errors for bad input."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import MINILM, ROOT, TINY_BERT, TINY_RESNET, shared
from helpers import child_env, write_config
from mmcontrast.config import load_config
from mmcontrast.data import DataError
from mmcontrast.training import train
from mmcontrast.training.checkpoint import latest_checkpoint

SCRIPTS = Path(__file__).parent
QUIET = ["train.progress_bar=false", "train.log_with=[]"]


def quickstart(tmp_path: Path, *overrides: str):
    return load_config(ROOT / "configs" / "quickstart.yaml", [f"output_dir={tmp_path}", *QUIET, *overrides])


@pytest.mark.slow
def test_simclr_on_digits_beats_the_untrained_encoder(tmp_path):
    result = train(quickstart(tmp_path, "train.epochs=15"))
    before, after = result.initial_metrics["knn/accuracy"], result.final_metrics["knn/accuracy"]
    # measured: 0.860 -> 0.951 (450 test digits: +0.05 is 22 more correct; seed noise is ~0.01)
    assert after >= before + 0.05, (before, after)
    export = tmp_path / "final"
    assert (export / "model.safetensors").is_file() and (export / "preprocessor_config.json").is_file()
    assert "knn/accuracy" in (export / "README.md").read_text()


def run_script(args: list[str], expect_killed: bool = False) -> None:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    if expect_killed:
        assert done.returncode == -9, done.stderr[-3000:]
    else:
        assert done.returncode == 0, done.stderr[-3000:]


def resume_configs(tmp_path: Path) -> dict[str, Path]:
    wiki = shared("wiki", "wiki1m_for_simcse.first11914.txt")
    vision = {
        "data": {"train": {"name": "sklearn_digits", "split": "train"}},
        "view": {"name": "two_view_augment", "augment": {"size": 16, "crop_scale": [0.5, 1.0]}},
        "encoder": {"name": "vision", "image_size": 16, "config": TINY_RESNET},
        "head": {"name": "mlp", "hidden_dims": [32], "output_dim": 16, "batch_norm": True},
        "objective": {"name": "nt_xent", "temperature": 0.2},
    }
    text = {  # dropout on: resume must restore the torch RNG for the dropout masks to match
        "data": {"train": {"name": "text_lines", "path": str(wiki), "limit": 400}},
        "view": {"name": "simcse_unsup"},
        "encoder": {"name": "text", "config": TINY_BERT, "tokenizer": MINILM, "pooling": "cls_before_pooler"},
        "head": {"name": "mlp", "final_activation": "tanh"},
        "objective": {"name": "info_nce", "temperature": 0.05},
    }
    common = {"train": {"batch_size": 32, "max_steps": 10, "checkpoint_every": 3, "lr": 1e-3, "log_every": 1,
                        "warmup_steps": 2, "scheduler": "linear", "eval_at_start": False, "progress_bar": False},
              "export": {"enabled": False}}
    return {name: write_config(tmp_path / f"{name}.yaml", {**tree, **common})
            for name, tree in {"vision": vision, "text": text}.items()}


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["vision", "text"])
@pytest.mark.parametrize("mode,step", [("between", 8), ("saving", 9)])
def test_resume_after_kill_reproduces_the_uninterrupted_run(tmp_path, modality, mode, step):
    config = resume_configs(tmp_path)[modality]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run_script([str(SCRIPTS / "distributed_train_script.py"), str(config), f"output_dir={straight}"])
    run_script([str(SCRIPTS / "interrupted_train_script.py"), str(config), mode, str(step), f"output_dir={killed}"],
               expect_killed=True)
    last_good = latest_checkpoint(killed)
    assert last_good is not None and last_good.name == "step-6"  # the half-written step-9 is not taken
    if mode == "saving":
        assert (killed / "checkpoints" / ".tmp-step-9").exists()
    run_script([str(SCRIPTS / "distributed_train_script.py"), str(config), f"output_dir={killed}"])
    expected, resumed = torch.load(straight / "params.pt"), torch.load(killed / "params.pt")
    for key, value in expected.items():
        assert torch.equal(value, resumed[key]), key
    losses = [yaml.safe_load(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    straight_losses = [yaml.safe_load(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    final = {r["step"]: r["train/loss"] for r in straight_losses if "train/loss" in r}
    for row in losses:
        if "train/loss" in row and row["step"] > 6:
            assert row["train/loss"] == pytest.approx(final[row["step"]], abs=1e-6)


def test_missing_data_file_is_named(tmp_path):
    cfg = load_config(None, [f"output_dir={tmp_path}", "data.train={name: text_lines, path: no/such/file.txt}",
                             "view={name: simcse_unsup}", *QUIET])
    with pytest.raises(FileNotFoundError, match="no/such/file.txt"):
        train(cfg)


def test_malformed_tsv_row_names_file_and_line(tmp_path):
    path = tmp_path / "triplets.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("anchor\tpositive\tnegative\na\tb\tc\nonly two\tfields\n")
    from mmcontrast.data import build_dataset

    with pytest.raises(DataError, match=r"triplets.tsv.gz:3: expected 3 tab-separated fields"):
        build_dataset({"name": "tsv", "path": str(path)})
    path.write_bytes(gzip.compress(b"anchor\tpositive\tnegative\na\t\tc\n"))
    with pytest.raises(DataError, match=r"triplets.tsv.gz:2: column 'positive' is empty"):
        build_dataset({"name": "tsv", "path": str(path)})


def test_empty_dataset_is_named(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    from mmcontrast.data import build_dataset

    with pytest.raises(DataError, match="empty.txt: the dataset is empty"):
        build_dataset({"name": "text_lines", "path": str(path)})


def test_missing_view_column_lists_the_columns(tmp_path):
    path = tmp_path / "rows.tsv"
    path.write_text("sentence\tother\nhello\tworld\nbye\tnow\n")
    cfg = load_config(None, [f"output_dir={tmp_path}", f"data.train={{name: tsv, path: {path}}}",
                             "view={name: simcse_unsup, column: text}", "train.batch_size=2",
                             f"encoder={{name: text, config: {TINY_BERT}, tokenizer: '{MINILM}'}}",
                             "objective={name: info_nce}", *QUIET])
    with pytest.raises(DataError, match=r"column 'text' not found; the rows have columns: sentence, other"):
        train(cfg)


def test_cli_reports_config_errors_with_exit_code_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mmcontrast.cli", "train", "--config", "configs/quickstart.yaml",
                           "train.batchsize=1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "train.batchsize" in done.stderr and "did you mean 'batch_size'" in done.stderr
