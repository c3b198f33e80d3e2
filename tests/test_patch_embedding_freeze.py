"""``encoder.freeze_patch_embedding`` (MoCo v3's stability trick for ViTs): the patch projection gets no gradient
and stays bit-identical through training (online and momentum encoder) while the rest of the ViT learns; a backbone
without a patch embedding is an error naming it."""

from __future__ import annotations

import pytest
import torch

from conftest import TINY_RESNET

from mmcontrast.config import load_config
from mmcontrast.encoders import VisionEncoder

TINY_VIT = {"model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 1, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def test_frozen_patch_projection_stays_bit_identical_through_moco_v3_training(tmp_path):
    from accelerate.utils import set_seed

    from mmcontrast.training import train
    from mmcontrast.training.build import build_learner

    overrides = [
        f"output_dir={tmp_path}", "data.train={name: sklearn_digits, split: train}",
        "encoder={name: vision, image_size: 16, freeze_patch_embedding: true, config: " + str(TINY_VIT) + "}",
        "view.augment.size=16", "head={name: mlp, hidden_dims: [32], output_dim: 16, train_only: true}",
        "predictor={name: mlp, hidden_dims: [32], output_dim: 16}",
        "train.batch_size=32", "train.max_steps=5", "train.lr=1e-2", "train.weight_decay=0.1",
        "train.optimizer=adamw", "train.warmup_ratio=0.0",
        "evaluators=[]", "train.checkpoint_every=null", "train.log_with=[]", "train.progress_bar=false",
        "train.eval_at_start=false", "export.enabled=false",
    ]
    cfg = load_config("configs/vision/moco_v3.yaml", overrides)
    set_seed(cfg.seed)
    initial = {k: v.clone() for k, v in build_learner(cfg).state_dict().items()}
    learner = train(cfg).learner
    state = learner.state_dict()
    assert not learner.model.encoder.backbone.embeddings.patch_embeddings.projection.weight.requires_grad
    projection = "model.encoder.backbone.embeddings.patch_embeddings.projection."
    for key in (projection + "weight", projection + "bias", "target." + projection + "weight"):
        assert torch.equal(state[key], initial[key]), key
    # the rest of the ViT learned (online) and the momentum encoder followed it
    for key in ("model.encoder.backbone.layers.0.attention.q_proj.weight",
                "target.model.encoder.backbone.layers.0.attention.q_proj.weight"):
        assert (state[key] - initial[key]).abs().max() > 1e-4, key


def test_backbone_without_patch_embedding_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"freeze_patch_embedding.*ResNetModel.*'resnet'.*patch_embeddings"):
        VisionEncoder(config=TINY_RESNET, image_size=16, freeze_patch_embedding=True)


def test_unfrozen_vit_patch_projection_trains():
    torch.manual_seed(0)
    encoder = VisionEncoder(config=TINY_VIT, image_size=16)
    encoder({"pixel_values": torch.randn(4, 1, 16, 16)}).sum().backward()
    assert encoder.backbone.embeddings.patch_embeddings.projection.weight.grad is not None
    assert encoder.backbone.embeddings.patch_embeddings.projection.weight.grad.abs().max() > 0  # a real gradient


def test_frozen_vit_patch_projection_gets_no_gradient_while_the_rest_does():
    torch.manual_seed(0)
    encoder = VisionEncoder(config=TINY_VIT, image_size=16, freeze_patch_embedding=True)
    encoder({"pixel_values": torch.randn(4, 1, 16, 16)}).sum().backward()
    projection = encoder.backbone.embeddings.patch_embeddings.projection
    assert not projection.weight.requires_grad and projection.weight.grad is None
    assert not projection.bias.requires_grad and projection.bias.grad is None
    query = encoder.backbone.layers[0].attention.q_proj.weight
    assert query.grad is not None and query.grad.abs().max() > 0
