"""Short real runs of the metric-learning losses on Fashion-MNIST: each one lifts weighted-kNN accuracy of the
backbone features (2,000 held-out training images as memory, 1,000 test images) above the untrained encoder of
the same architecture and seed.

Label-aware losses train with labels (two mildly augmented views, same-label views are positives) through their
``configs/metric_learning/offline`` config where one exists (miners and the class-balanced sampler included);
instance-level losses (NCE, N-pair, alignment + uniformity) train self-supervised on SimCLR's views with a
projection head. A tiny HF ResNet (16-32-64) on 16x16 inputs keeps each run to seconds."""

from __future__ import annotations

import pytest
import torch

from conftest import ROOT

from mmcontrast.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fashion_mnist")]

CONFIGS = ROOT / "configs"
TINY = ["data.train.limit=4096", "evaluators=[]", "train.checkpoint_every=null", "train.progress_bar=false",
        "train.log_with=[]", "train.eval_at_start=false", "export.enabled=false", "encoder.image_size=16",
        "encoder.config.hidden_sizes=[16,32,64]", "encoder.config.depths=[1,1,1]", "encoder.config.embedding_size=16",
        "view.augment.size=16", "train.batch_size=128", "train.warmup_ratio=0.0"]
# labels, mild views, no head, 120 steps
SUPERVISED = TINY + ["head=null", "view.augment.crop_scale=[0.8,1.0]", "view.augment.jitter_p=0.0", "train.lr=1e-2",
                     "train.max_steps=120"]
# self-supervised SimCLR views, a train-only projection head, 300 steps
INSTANCE = TINY + ["head={name: mlp, hidden_dims: [64], output_dim: 32, train_only: true}", "train.lr=2e-3",
                   "train.max_steps=300"]
BALANCED = ["data.batch_sampler.samples_per_class=16"]  # 8 classes x 16 images in a batch of 128
RUNS = {
    "multi_similarity+miner": ("metric_learning/offline/multi_similarity.yaml", SUPERVISED + BALANCED),
    "triplet+semi_hard": ("metric_learning/offline/triplet_semi_hard.yaml", SUPERVISED + BALANCED),
    "circle": ("metric_learning/offline/circle.yaml", SUPERVISED),
    "lifted_structured": ("metric_learning/offline/lifted_structured.yaml", SUPERVISED),
    "soft_nearest_neighbour": ("vision/offline/supcon.yaml",
                               SUPERVISED + ["objective={name: soft_nearest_neighbour}"]),
    "nce": ("vision/offline/simclr.yaml", INSTANCE + ["objective={name: nce}"]),
    "n_pair": ("vision/offline/simclr.yaml", INSTANCE + ["objective={name: n_pair}"]),
    "align_uniform": ("vision/offline/simclr.yaml", INSTANCE + ["objective={name: align_uniform}"]),
}
MARGIN = 0.04  # measured gains are 0.05-0.13; 0.04 is ~3 binomial standard deviations on 1,000 test images


@pytest.fixture(scope="module")
def evaluation():
    from mmcontrast.data.images import fashion_mnist
    from mmcontrast.evaluation.knn import weighted_knn_predict
    from mmcontrast.training.build import build_model
    from accelerate.utils import set_seed

    memory, test = fashion_mnist("train", start=50000, limit=2000), fashion_mnist("test", limit=1000)

    def knn_accuracy(model) -> float:
        features, queries = model.encode(memory.images), model.encode(test.images)
        predicted = weighted_knn_predict(features, memory.labels, queries, 10, k=20)
        return (predicted == test.labels).float().mean().item()

    cfg = load_config(CONFIGS / "vision" / "offline" / "supcon.yaml", SUPERVISED)
    set_seed(cfg.seed)  # the initial weights every run starts from
    return knn_accuracy, knn_accuracy(build_model(cfg))


@pytest.mark.parametrize("name", list(RUNS))
def test_loss_lifts_knn_accuracy_above_the_untrained_encoder(tmp_path, evaluation, name):
    from mmcontrast.training import train

    knn_accuracy, untrained = evaluation
    config, overrides = RUNS[name]
    result = train(load_config(CONFIGS / config, [f"output_dir={tmp_path}", *overrides]))
    trained = knn_accuracy(result.model)
    print(f"{name}: kNN untrained {untrained:.4f} -> trained {trained:.4f}")
    assert trained >= untrained + MARGIN, (name, untrained, trained)
