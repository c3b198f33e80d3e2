"""A short DINO run on Fashion-MNIST (multi-crop, momentum teacher, tiny HF ResNet on 16x16): weighted-kNN accuracy
of the backbone rises above the untrained encoder's, and the teacher has not collapsed (neither onto one prototype
nor onto the uniform distribution)."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import ROOT

from mmcontrast.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fashion_mnist")]

OVERRIDES = [
    "data.train.limit=4096", "evaluators=[]", "train.checkpoint_every=null", "train.progress_bar=false",
    "train.log_with=[]", "train.eval_at_start=false", "export.enabled=false", "encoder.image_size=16",
    "encoder.config.hidden_sizes=[16,32,64]", "encoder.config.depths=[1,1,1]", "encoder.config.embedding_size=16",
    "view.global_size=16", "view.local_size=8", "view.num_local=2", "train.batch_size=128", "train.warmup_ratio=0.0",
    "train.max_steps=200", "train.lr=2e-3", "head.hidden_dims=[64]", "head.bottleneck_dim=32",
    "head.num_prototypes=128", "target.momentum=0.99",
    # the margin below was measured with these two; the offline config's BatchNorm head and weight decay 0.04 (tuned
    # on the 32x32 benchmark) give +0.016 on this 16x16 toy run
    "head.batch_norm=false", "train.weight_decay=1e-5",
]
MARGIN = 0.02  # measured: +0.045 (seed 42), +0.030 (seed 7) after 200 steps; paired on the same 1,000 test images


def test_dino_lifts_knn_accuracy_without_collapse(tmp_path):
    from accelerate.utils import set_seed

    from mmcontrast.data.images import fashion_mnist
    from mmcontrast.evaluation.knn import weighted_knn_predict
    from mmcontrast.training import train
    from mmcontrast.training.build import build_model

    memory, test = fashion_mnist("train", start=50000, limit=2000), fashion_mnist("test", limit=1000)

    def knn_accuracy(model) -> float:
        predicted = weighted_knn_predict(model.encode(memory.images), memory.labels, model.encode(test.images), 10, k=20)
        return (predicted == test.labels).float().mean().item()

    cfg = load_config(ROOT / "configs" / "vision" / "offline" / "dino.yaml", [f"output_dir={tmp_path}", *OVERRIDES])
    set_seed(cfg.seed)
    untrained = knn_accuracy(build_model(cfg))
    result = train(cfg)
    trained = knn_accuracy(result.model)
    print(f"dino: kNN untrained {untrained:.4f} -> trained {trained:.4f}")
    assert trained >= untrained + MARGIN, (untrained, trained)

    learner = result.learner.eval()
    objective = learner.objective
    with torch.no_grad():
        teacher = learner.target.model(learner.model.prepare(test.images))  # (1000, K) teacher scores
        probs = torch.softmax((teacher - objective.center) / objective.teacher_temperature(), dim=1)
    k = probs.shape[1]
    used = probs.argmax(dim=1).unique().numel()
    mean_entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum(1).mean())
    print(f"teacher: {used} of {k} prototypes used as argmax, mean entropy {mean_entropy:.3f} (uniform {math.log(k):.3f})")
    assert used >= 10, used  # not one prototype for every image
    assert mean_entropy < 0.9 * math.log(k), mean_entropy  # not the uniform distribution
