"""Cross-process negatives: 2 CPU processes (gloo) must give the same loss and the same parameter update after
one optimizer step as 1 process over the concatenated batch. The default test tier runs the gathered in-batch
negatives with gathered hard negatives; the plain in-batch case is in the slow tier."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import MINILM, TINY_BERT, shared
from helpers import SGD_STEP, train_in_processes, write_config


def config(tmp_path: Path, with_negatives: bool) -> Path:
    rows = shared("nli", "snli_dev_triplets.tsv.gz")
    return write_config(tmp_path, {
        "data": {"train": {"name": "tsv", "path": str(rows), "limit": 8}, "shuffle": False},
        "view": {"name": "simcse_sup", "negative": "negative" if with_negatives else None},
        "encoder": {
            "name": "text", "config": {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
            "tokenizer": MINILM, "pooling": "mean", "max_length": 24,
        },
        "objective": {"name": "info_nce", "temperature": 0.05},
        "train": SGD_STEP,
        "export": {"enabled": False},
    })


@pytest.mark.parametrize("with_negatives", [pytest.param(False, marks=pytest.mark.slow), True],
                         ids=["in_batch", "hard_negatives"])
def test_two_processes_equal_one_process_over_concatenated_batch(tmp_path, with_negatives):
    path = config(tmp_path, with_negatives)
    loss1, params1 = train_in_processes(path, tmp_path / "one", 1, 8)
    loss2, params2 = train_in_processes(path, tmp_path / "two", 2, 4)
    _, initial = train_in_processes(path, tmp_path / "zero", 1, 8, "train.lr=0.0")  # same seeded init, no update
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert params1.keys() == params2.keys()
    largest_update = 0.0
    for key in params1:
        update1, update2 = params1[key] - initial[key], params2[key] - initial[key]
        assert torch.allclose(update1, update2, atol=1e-5, rtol=0), key
        largest_update = max(largest_update, update1.abs().max().item())
    # lr=1 SGD: the update is the gradient; it must be real for the equality to mean anything
    assert largest_update > 1e-3
