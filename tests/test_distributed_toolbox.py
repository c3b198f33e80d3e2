"""The metric-learning losses and miners under 2 CPU processes (gloo) equal 1 process over the concatenated batch:
loss and parameters after one SGD step (tolerance 1e-5); DINO's center too. Labelled data with views that are the same in every process
(sklearn digits; view 1 the image, view 2 its mirror image) and a tiny ViT (LayerNorm: no batch statistics that
would differ between a batch of 16 and two of 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from accelerate.utils import set_seed

from helpers import SGD_STEP, logged_loss_and_state, run_ok, script_command, write_config

from mmcontrast.config import load_config
from mmcontrast.training.build import build_learner

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("toolbox_distributed_script.py")
AUGMENT = {"size": 16, "crop_scale": [1.0, 1.0], "crop_ratio": [1.0, 1.0], "flip_p": 0.0, "jitter_p": 0.0,
           "grayscale_p": 0.0, "blur_p": 0.0}
SCENARIOS = {
    "nce": {"objective": {"name": "nce", "temperature": 0.5}},
    "n_pair": {"objective": {"name": "n_pair"}},
    "lifted_structured": {"objective": {"name": "lifted_structured"}},
    "circle": {"objective": {"name": "circle", "gamma": 16.0}},
    "soft_nearest_neighbour": {"objective": {"name": "soft_nearest_neighbour", "temperature": 0.5}},
    "multi_similarity+miner": {"objective": {"name": "multi_similarity"}, "miner": {"name": "multi_similarity"}},
    "align_uniform": {"objective": {"name": "align_uniform"}},
    "triplet+semi_hard": {"objective": {"name": "triplet", "margin": 0.5}, "miner": {"name": "semi_hard"}},
    # DINO: the center is an EMA of the teacher outputs over the GLOBAL batch (center_momentum 0.5 makes a
    # per-process mean visible); teacher = momentum encoder + DINO head
    "dino": {"head": {"name": "dino", "hidden_dims": [32], "bottleneck_dim": 16, "num_prototypes": 24},
             "target": {"name": "momentum", "momentum": 0.9, "final_momentum": 0.9}, "symmetric": "mean",
             "negatives": {"name": "none"},
             "objective": {"name": "dino", "teacher_temperature": 0.04, "center_momentum": 0.5}},
    "pairwise+batch_hard": {"objective": {"name": "pairwise_contrastive", "distance": "euclidean", "margin": 1.0},
                            "miner": {"name": "batch_hard"}},
}


def config(path: Path, scenario: dict) -> Path:
    return write_config(path, {
        "data": {"train": {"name": "sklearn_digits", "split": "train"}, "shuffle": False},
        "view": {"name": "two_view_augment", "label_column": "label", "augment": AUGMENT, "augment2": {"flip_p": 1.0}},
        "encoder": {"name": "vision", "image_size": 16,
                    "config": {"model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 1,
                               "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                               "intermediate_size": 64}},
        "train": {**SGD_STEP, "lr": 0.5},
        "export": {"enabled": False},
        **scenario,
    })


def launch(tmp_path: Path, processes: int, batch_size: int) -> dict[str, tuple[float, dict]]:
    """Every scenario in one launch of ``processes`` processes; {scenario: (logged loss, final state)}."""
    runs = []
    for name, scenario in SCENARIOS.items():
        path = config(tmp_path / f"{name}.yaml", scenario)
        output = tmp_path / f"{name}-{processes}"
        runs.append({"config": str(path), "overrides": [f"output_dir={output}", f"train.batch_size={batch_size}"]})
    plan = tmp_path / f"plan-{processes}.json"
    plan.write_text(json.dumps(runs))
    run_ok(script_command(SCRIPT, str(plan), processes=processes), timeout=900)
    return {name: logged_loss_and_state(tmp_path / f"{name}-{processes}") for name in SCENARIOS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("toolbox")
    return tmp_path, launch(tmp_path, 1, 16), launch(tmp_path, 2, 8)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_two_processes_equal_one_process_over_the_concatenated_batch(runs, name):
    tmp_path, one, two = runs
    (loss1, state1), (loss2, state2) = one[name], two[name]
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert state1.keys() == state2.keys()
    for key in state1:
        assert torch.allclose(state1[key].float(), state2[key].float(), atol=1e-5, rtol=0), key
    # the step really moved the parameters from the seeded initial state (same RNG use as train(): seed, build)
    cfg = load_config(tmp_path / f"{name}.yaml", ["train.batch_size=16"])
    set_seed(cfg.seed)
    initial = build_learner(cfg, num_samples=1347).state_dict()
    moved = max((state1[k].float() - initial[k].float()).abs().max().item() for k in initial)
    assert moved > 1e-3, moved
