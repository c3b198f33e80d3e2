"""Encoders, pooling, heads and views: behaviour, not only shapes."""

from __future__ import annotations

import pytest
import torch

from conftest import MINILM, TINY_BERT, TINY_RESNET
from mmcontrast.encoders import ContrastiveModel, MLPHead, TextEncoder, VisionEncoder
from mmcontrast.encoders.pooling import mean_pool
from mmcontrast.batch import RoleLayout
from mmcontrast.training.learner import flatten_views, split_embeddings
from mmcontrast.views import SimCSESupervised, SimCSEUnsupervised, TwoViewAugment

TEXTS = ["A man is playing a guitar.", "A woman slices an onion on a board.", "Kids play football", "Hi"]


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder(model=MINILM, pooling="mean", max_length=32)


def test_mean_pooling_ignores_padding():
    hidden = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    assert torch.allclose(pooled[0], hidden[0, :2].mean(0)) and torch.allclose(pooled[1], hidden[1].mean(0))


def test_text_poolings_differ_as_defined(minilm):
    inputs = minilm.prepare(TEXTS)
    out = minilm.backbone(**inputs)
    for pooling, expected in [("cls", out.pooler_output), ("cls_before_pooler", out.last_hidden_state[:, 0]),
                              ("mean", mean_pool(out.last_hidden_state, inputs["attention_mask"]))]:
        minilm.pooling = pooling
        assert torch.allclose(minilm(inputs), expected, atol=1e-6), pooling
    minilm.pooling = "mean"


def test_unused_pooler_is_frozen_but_kept(minilm):
    assert all(not p.requires_grad for p in minilm.backbone.pooler.parameters())
    cls = TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="cls")
    assert all(p.requires_grad for p in cls.backbone.pooler.parameters())


def test_encode_is_batch_and_order_independent(minilm):
    model = ContrastiveModel(minilm)
    full = model.encode(TEXTS, batch_size=64)
    small = model.encode(TEXTS, batch_size=1)
    assert torch.allclose(full, small, atol=1e-5)
    assert torch.allclose(model.encode(TEXTS[::-1], batch_size=3), full.flip(0), atol=1e-5)
    assert model.training  # restored after encode


def test_train_only_head_is_used_in_training_and_dropped_at_evaluation(minilm):
    head = MLPHead(minilm.embedding_dim, output_dim=16, train_only=True)
    model = ContrastiveModel(minilm, head)
    inputs = minilm.prepare(TEXTS)
    assert model(inputs).shape == (4, 16) and model.encode(TEXTS).shape == (4, minilm.embedding_dim)
    model.head.train_only = False
    assert model.encode(TEXTS).shape == (4, 16)


def test_simclr_head_layout():
    head = MLPHead(32, hidden_dims=[64], output_dim=8, batch_norm=True, activation="relu")
    kinds = [type(m).__name__ for m in head.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    simcse = MLPHead(32, final_activation="tanh")
    assert [type(m).__name__ for m in simcse.net] == ["Linear", "Tanh"]


@pytest.mark.parametrize("config", [
    TINY_RESNET,
    {"model_type": "vit", "image_size": 16, "patch_size": 4, "hidden_size": 32, "num_hidden_layers": 2,
     "num_attention_heads": 2, "intermediate_size": 64, "num_channels": 1},
    {"model_type": "convnext", "num_channels": 1, "hidden_sizes": [16, 32], "depths": [1, 1], "num_stages": 2},
], ids=["resnet", "vit", "convnext"])
def test_vision_backbones_from_config(config):
    encoder = VisionEncoder(config=config, image_size=16)
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    features = ContrastiveModel(encoder).encode(images)
    assert features.shape == (3, encoder.embedding_dim) and torch.isfinite(features).all()
    # different images give different features (the pooled output is not a constant)
    assert (features[0] - features[1]).abs().max() > 1e-4


def test_vision_prepare_normalises_and_resizes():
    encoder = VisionEncoder(config=TINY_RESNET, image_size=8, mean=[0.5], std=[0.25])
    pixels = encoder.prepare(torch.full((2, 1, 8, 8), 255, dtype=torch.uint8))["pixel_values"]
    assert torch.allclose(pixels, torch.full_like(pixels, 2.0))
    assert encoder.prepare(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))["pixel_values"].shape == (2, 1, 8, 8)


def test_simcse_unsup_is_one_forward_over_the_doubled_batch_with_different_dropout():
    encoder = TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="cls_before_pooler")
    model = ContrastiveModel(encoder).train()
    calls = []
    encoder.backbone.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    views = SimCSEUnsupervised()({"text": TEXTS})
    step = flatten_views(model, views)
    inputs, layout, crops = step.inputs, step.layout, step.crop_inputs
    assert inputs["input_ids"].shape[0] == 8 and crops == []
    query, positive, _ = split_embeddings(model(inputs), layout)
    assert len(calls) == 1
    assert not torch.allclose(query, positive)  # dropout twins differ
    model.eval()
    with torch.no_grad():
        query, positive, _ = split_embeddings(model(inputs), layout)
    assert torch.allclose(query, positive, atol=1e-6)  # and only by dropout


def test_simcse_supervised_layout_keeps_each_anchors_negative():
    views = SimCSESupervised()({"anchor": ["a1", "a2"], "positive": ["p1", "p2"], "negative": ["n1", "n2"]})
    embeddings = torch.arange(6, dtype=torch.float32)[:, None].repeat(1, 3)  # row r encodes item r

    _, _, negatives = split_embeddings(embeddings, RoleLayout(2, True, 1))
    assert views.query == ["a1", "a2"] and views.negatives == [["n1", "n2"]]
    assert negatives.shape == (2, 1, 3)
    assert negatives[:, 0, 0].tolist() == [4.0, 5.0]  # anchor i's negative is item 4 + i


def test_two_view_augment_is_seeded_and_the_views_differ():
    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    first = TwoViewAugment(augment={"size": 8}, seed=3)({"image": images})
    again = TwoViewAugment(augment={"size": 8}, seed=3)({"image": images})
    other = TwoViewAugment(augment={"size": 8}, seed=4)({"image": images})
    assert torch.equal(first.query, again.query) and torch.equal(first.positive, again.positive)
    assert not torch.equal(first.query, other.query)
    assert not torch.equal(first.query, first.positive)
    with pytest.raises(ValueError, match=r"view.augment.sise.*did you mean 'size'"):
        TwoViewAugment(augment={"sise": 8})


def test_rgb_images_reach_a_grayscale_encoder_as_luma_and_uint8_resizing_matches_pil():
    import numpy as np
    from PIL import Image

    from mmcontrast.encoders.vision import pil_bilinear_resize

    rgb = torch.randint(0, 256, (3, 3, 10, 10), dtype=torch.uint8)
    encoder = VisionEncoder(config={"model_type": "resnet", "num_channels": 1, "hidden_sizes": [8], "depths": [1],
                                    "embedding_size": 8, "layer_type": "basic"}, image_size=10, mean=(0.0,), std=(1.0,))
    pixels = encoder.prepare(rgb)["pixel_values"]
    luma = np.stack([np.asarray(Image.fromarray(im.permute(1, 2, 0).numpy(), mode="RGB").convert("L")) for im in rgb])
    assert pixels.shape == (3, 1, 10, 10)
    assert (pixels[:, 0] * 255 - torch.from_numpy(luma).float()).abs().max() <= 1.0  # PIL rounds in fixed point
    resized = pil_bilinear_resize(rgb[:, :1], 16)
    expected = np.stack([np.asarray(Image.fromarray(im[0].numpy(), mode="L").resize((16, 16), Image.BILINEAR))
                         for im in rgb[:, :1]])
    assert torch.equal(resized[:, 0], torch.from_numpy(expected))


@pytest.mark.parametrize("name, params, message", [
    ("text", {"model": "no-such-org/no-such-model"},
     r"^encoder\.model 'no-such-org/no-such-model' is not a local folder and is not in the Hugging Face cache "
     r"\(offline: HF_HUB_OFFLINE=1\); download it first or fix the id \(OSError: .{1,160}\)$"),
    ("vision", {"model": "no-such-org/no-such-vit"},
     r"^encoder\.model 'no-such-org/no-such-vit' is not a local folder"),
    ("text", {"config": {"model_type": "bert", "vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 1,
                         "num_attention_heads": 2, "intermediate_size": 16}, "tokenizer": "no-such-org/no-tokenizer"},
     r"^encoder\.tokenizer 'no-such-org/no-tokenizer' is not a local folder and is not in the Hugging Face cache"),
])
def test_a_model_id_that_cannot_be_loaded_offline_is_named(name, params, message, monkeypatch):
    """B19: a 61-line OSError that never named the id."""
    from mmcontrast.encoders import ENCODERS
    from mmcontrast.errors import ConfigError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=message):
        ENCODERS.get(name)(**params)


def test_a_local_folder_without_model_files_is_named(tmp_path):
    from mmcontrast.encoders import ENCODERS
    from mmcontrast.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"^encoder\.model '{tmp_path}': the local folder {tmp_path} cannot be "
                                          r"loaded \(a transformers model folder needs config\.json"):
        ENCODERS.get("text")(model=str(tmp_path))
