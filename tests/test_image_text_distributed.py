"""CLIP and SigLIP across processes: 2 CPU processes (gloo), each with half of the batch and the other's captions
and images gathered WITH gradient, give the same loss and the same weights after two optimizer steps (towers,
projections, logit scale, SigLIP's bias) as 1 process over the concatenated batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import MINILM, TINY_BERT
from helpers import SGD_STEP, train_in_processes, write_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fashion_mnist")]

# LayerNorm towers (no BatchNorm: its batch statistics would differ between 8 rows and 2 x 4), no dropout
CONVNEXT = {"model_type": "convnext", "num_channels": 3, "hidden_sizes": [8, 16], "depths": [1, 1], "num_stages": 2,
            "patch_size": 4, "layer_scale_init_value": 0.0}
BERT = {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
OBJECTIVES = {"clip": ({"name": "clip"}, 0.07), "siglip": ({"name": "siglip", "bias": -2.0}, 0.1)}


def config(tmp_path: Path, objective: str) -> Path:
    loss, temperature = OBJECTIVES[objective]
    return write_config(tmp_path, {
        "data": {"train": {"name": "labelled_captions", "dataset": {"name": "fashion_mnist", "split": "train",
                                                                    "limit": 16},
                           "templates": ["a photo of the {}."]},  # one caption per image: no random draw
                 "shuffle": False},
        "view": {"name": "image_caption"},
        "encoder": {"name": "dual_encoder", "vision": {"config": CONVNEXT, "image_size": 16},
                    "text": {"config": BERT, "tokenizer": MINILM, "max_length": 16}, "projection_dim": 8,
                    "temperature": temperature},
        "objective": loss,
        "train": {**SGD_STEP, "max_steps": 2, "lr": 0.5},
        "export": {"enabled": False},
    })


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_two_processes_equal_one_process_over_concatenated_batch(tmp_path, objective):
    path = config(tmp_path, objective)
    loss1, state1 = train_in_processes(path, tmp_path / "one", 1, 8)
    loss2, state2 = train_in_processes(path, tmp_path / "two", 2, 4)
    _, initial = train_in_processes(path, tmp_path / "zero", 1, 8, "train.lr=0.0")  # the same seeded start, no update
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert state1.keys() == state2.keys()
    moved = 0.0
    for key in state1:
        assert torch.allclose(state1[key], state2[key], atol=1e-5, rtol=0), key
        moved = max(moved, (state1[key].float() - initial[key].float()).abs().max().item())
    assert moved > 1e-3  # a real update, for the equality to mean something
    scale = "model.temperature.log_scale"
    assert abs(state1[scale].item() - initial[scale].item()) > 1e-4  # the logit scale is learned and synchronised
    if objective == "siglip":
        assert abs(state1["objective.bias"].item() - initial["objective.bias"].item()) > 1e-4
