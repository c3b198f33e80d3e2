"""Layer probing (``layer_probe`` evaluator): per-stage kNN / linear-probe accuracy of a backbone's hidden states
on Fashion-MNIST, pooled features checked against the backbone's own pooling, a supervised run changing the deep
stages more than the stem, and the first-layer filter PNG with one tile per filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import ROOT, TINY_RESNET

from mmcontrast.config import load_config
from mmcontrast.encoders import ContrastiveModel, VisionEncoder
from mmcontrast.evaluation import EVALUATORS
from mmcontrast.evaluation.layer_probe import (filter_grid_shape, filter_grid_size, save_filter_grid,
                                               stage_features)

TINY_VIT = {"model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 1, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
needs_fashion = pytest.mark.usefixtures("fashion_mnist")
STAGES = ["stem", "stage1", "stage2", "stage3"]


def tiny(config: dict) -> ContrastiveModel:
    torch.manual_seed(0)
    return ContrastiveModel(VisionEncoder(config=config, image_size=16, mean=[0.2860], std=[0.3530]))


def probe(**extra):
    return EVALUATORS.get("layer_probe").from_config(dict(
        train={"name": "fashion_mnist", "split": "train", "start": 50000, "limit": 2000},
        test={"name": "fashion_mnist", "split": "test", "limit": 1000}, k=20, epochs=50, batch_size=500, **extra))


def test_stage_features_pool_the_hidden_states():
    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    resnet = tiny(TINY_RESNET)
    features = stage_features(resnet, images, batch_size=4)
    assert list(features) == STAGES
    assert [f.shape[1] for f in features.values()] == [16, 16, 32, 64]
    # the last stage, average-pooled, is the ResNet's own pooler output (what encode returns)
    assert torch.allclose(features["stage3"], resnet.encode(images), atol=1e-5)
    vit = tiny(TINY_VIT)
    with torch.no_grad():
        hidden = vit.encoder.backbone(**vit.prepare(images), output_hidden_states=True).hidden_states
    cls = stage_features(vit, images, ["block2"])
    mean = stage_features(vit, images, ["embeddings", "block1"], pooling="mean")
    assert torch.allclose(cls["block2"], hidden[2][:, 0], atol=1e-5)
    assert torch.allclose(mean["block1"], hidden[1][:, 1:].mean(dim=1), atol=1e-5)
    with pytest.raises(ValueError, match=r"unknown stage\(s\) \['res5'\].*stem, stage1, stage2, stage3"):
        stage_features(resnet, images, ["res5"])


@pytest.mark.slow
@needs_fashion
def test_per_stage_metrics_are_above_chance_and_supervised_training_moves_the_deep_stages(tmp_path):
    from mmcontrast.training import train

    evaluator = probe(stages=STAGES)
    untrained = evaluator(tiny(TINY_RESNET))
    assert evaluator.primary_metric == "layer_probe/stage3/knn_accuracy"
    assert sorted(untrained) == sorted(f"layer_probe/{s}/{m}" for s in STAGES
                                       for m in ("knn_accuracy", "linear_accuracy"))
    assert all(value > 0.3 for value in untrained.values()), untrained  # 10 classes: chance is 0.1
    # SupCon on labels: the deepest stage gains far more than the stem (whose features stay close to pixels)
    result = train(load_config(ROOT / "configs" / "vision" / "offline" / "supcon.yaml", [
        f"output_dir={tmp_path}", "data.train.limit=4096", "evaluators=[]", "train.checkpoint_every=null",
        "train.progress_bar=false", "train.log_with=[]", "train.eval_at_start=false", "export.enabled=false",
        "encoder.image_size=16", "encoder.config.hidden_sizes=[16,32,64]", "encoder.config.depths=[1,1,1]",
        "encoder.config.embedding_size=16", "view.augment.size=16", "train.batch_size=128",
        "train.warmup_ratio=0.0", "head=null", "view.augment.crop_scale=[0.8,1.0]", "view.augment.jitter_p=0.0",
        "train.lr=1e-2", "train.max_steps=80"]))
    trained = evaluator(result.model)
    gain = {s: trained[f"layer_probe/{s}/knn_accuracy"] - untrained[f"layer_probe/{s}/knn_accuracy"]
            for s in STAGES}
    print("untrained", untrained, "\ntrained", trained)
    assert gain["stage3"] > 0.04, gain
    assert gain["stage3"] > gain["stem"] + 0.03, gain


@pytest.mark.parametrize("config, max_filters, expected", [(TINY_RESNET, 10, 10), (TINY_VIT, 64, 32)])
def test_filter_grid_has_one_tile_per_filter(tmp_path, config, max_filters, expected):
    from PIL import Image

    path = tmp_path / "filters.png"
    assert save_filter_grid(tiny(config), path, max_filters=max_filters, cell_size=20, pad=2) == expected
    image = np.asarray(Image.open(path).convert("RGB"))
    assert (image.shape[1], image.shape[0]) == filter_grid_size(expected, 20, 2)
    rows, columns = filter_grid_shape(expected)
    drawn = 0
    for r in range(rows):
        for c in range(columns):
            cell = image[2 + r * 22 : 2 + r * 22 + 20, 2 + c * 22 : 2 + c * 22 + 20]
            drawn += int(cell.min() == 0 and cell.max() == 255)  # each filter is min-max scaled to 0..255
            if r * columns + c >= expected:
                assert (cell == 128).all()  # an empty cell is background
    assert drawn == expected


def test_layer_probe_is_a_config_evaluator_and_writes_the_filter_grid(tmp_path):
    cfg = load_config(ROOT / "configs" / "quickstart.yaml", [
        f"evaluators=[{{name: layer_probe, train: {{name: sklearn_digits, split: train}}, test: {{name: "
        f"sklearn_digits, split: test}}, stages: [stage1, stage3], k: 20, epochs: 20, "
        f"filters_path: {tmp_path / 'f.png'}, max_filters: 9}}]"])
    from mmcontrast.training.build import build_evaluators, build_model

    evaluator = build_evaluators(cfg)[0]
    metrics = evaluator(build_model(cfg))
    assert set(metrics) == {f"layer_probe/{s}/{m}" for s in ("stage1", "stage3")
                            for m in ("knn_accuracy", "linear_accuracy")}
    assert (tmp_path / "f.png").is_file() and metrics[evaluator.primary_metric] > 0.5
