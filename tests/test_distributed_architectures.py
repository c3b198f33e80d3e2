"""Every negative architecture and global-batch objective under 2 CPU processes (gloo) equals 1 process over
the concatenated batch, over TWO optimizer steps: the MoCo queue enqueues the keys of all processes, the memory
bank stays identical, SwAV's Sinkhorn normalises over the global batch, Barlow Twins and VICReg standardise over
it. Loss, parameters AND buffers (queue, memory, prototypes, momentum encoder) must match. The default test tier
runs the queue and the memory bank; the rest of the matrix is in the slow tier."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate.utils import set_seed

from conftest import MINILM, TINY_BERT, shared
from helpers import SGD_STEP, train_in_processes, write_config

from mmcontrast.config import load_config
from mmcontrast.training.build import build_learner

SCENARIOS = {
    "moco_queue": {"target": {"name": "momentum", "momentum": 0.9, "schedule": "constant"},
                   "negatives": {"name": "queue", "size": 12},
                   "objective": {"name": "info_nce", "temperature": 0.2}},
    "memory_bank": {"negatives": {"name": "memory_bank", "num_negatives": 5, "momentum": 0.5},
                    "objective": {"name": "info_nce", "temperature": 0.1}, "symmetric": "mean"},
    "memory_bank_warm_start": {"negatives": {"name": "memory_bank", "num_negatives": 5, "momentum": 0.5,
                                             "warm_start": True},
                               "objective": {"name": "info_nce", "temperature": 0.1}, "symmetric": "mean"},
    "swav": {"objective": {"name": "swav", "num_prototypes": 6, "temperature": 0.1}},
    "barlow_twins": {"objective": {"name": "barlow_twins"}},
    "vicreg": {"objective": {"name": "vicreg"}, "head": {"name": "mlp", "hidden_dims": [], "output_dim": 16}},
}
# Barlow Twins and VICReg sum over dimensions: a smaller step keeps the weights at a scale where 1e-5 is tight
LR = {"barlow_twins": 0.002, "vicreg": 0.002}


def config(tmp_path: Path, scenario: dict) -> Path:
    return write_config(tmp_path, {
        "data": {"train": {"name": "tsv", "path": str(shared("nli", "snli_dev_triplets.tsv.gz")), "limit": 16},
                 "shuffle": False},
        "view": {"name": "simcse_sup", "negative": None},
        "encoder": {
            "name": "text", "config": {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
            "tokenizer": MINILM, "pooling": "mean", "max_length": 24,
        },
        "train": {**SGD_STEP, "max_steps": 2, "lr": 0.5},
        "export": {"enabled": False},
        **scenario,
    })


DEFAULT_TIER = ("moco_queue", "memory_bank")  # one per negatives architecture with state across processes


@pytest.mark.parametrize("name", [name if name in DEFAULT_TIER else pytest.param(name, marks=pytest.mark.slow)
                                  for name in SCENARIOS])
def test_two_processes_equal_one_process_over_two_steps(tmp_path, name):
    path = config(tmp_path, SCENARIOS[name])
    lr = f"train.lr={LR.get(name, 0.5)}"
    loss1, state1 = train_in_processes(path, tmp_path / "one", 1, 8, lr)
    loss2, state2 = train_in_processes(path, tmp_path / "two", 2, 4, lr)
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert state1.keys() == state2.keys()
    for key in state1:
        if state1[key].is_floating_point():
            assert torch.allclose(state1[key], state2[key], atol=1e-5, rtol=0), key
        else:
            assert torch.equal(state1[key], state2[key]), key
    # the state really moved from the seeded initial one (same RNG use as train(): seed, then build)
    cfg = load_config(path, [lr, "train.batch_size=8"])
    set_seed(cfg.seed)
    initial = build_learner(cfg, num_samples=16).state_dict()
    moved = max((state1[k].float() - initial[k].float()).abs().max().item() for k in initial)
    assert moved > 1e-3
    if name == "moco_queue":  # the keys of both processes' batches (2 steps x 8) went through the 12-slot queue
        assert int(state1["objective.negatives.pointer"]) == 16 % 12
        assert not torch.allclose(state1["objective.negatives.queue"], initial["objective.negatives.queue"])
    if name.startswith("memory_bank"):
        assert int(state1["objective.negatives.steps"]) == 2
    if name == "memory_bank_warm_start":  # every row of the 2 x 8 global batches was written once
        assert bool(state1["objective.negatives.written"].all())
