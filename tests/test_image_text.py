"""Image-text (CLIP / SigLIP) pieces with tiny models: the dual encoder's logit scale clamp, routing and locked
towers; the CLIP and SigLIP losses against naive references (and transformers' own CLIP loss); image-caption data
(imagefolder + metadata.csv, several captions per image, templated labelled sets) and its errors; the zero-shot
and retrieval evaluators against naive loops; config errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import MINILM, TINY_BERT, TINY_RESNET
from helpers import write_config

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.config import load_config
from mmcontrast.data import DataError, build_dataset, collate_rows
from mmcontrast.data.image_text import CLASS_NAMES
from mmcontrast.encoders import DualEncoderModel
from mmcontrast.evaluation.cross_modal import CrossModalRetrievalEvaluator
from mmcontrast.evaluation.zero_shot import ZeroShotEvaluator
from mmcontrast.negatives import InBatchNegatives
from mmcontrast.objectives import CLIPLoss, SigLIP, sigmoid_loss
from mmcontrast.training.build import build_learner, build_model
from mmcontrast.training.learner import Learner, flatten_views, split_embeddings
from mmcontrast.views import VIEWS, ViewBatch

NO_DROPOUT_BERT = {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
TINY_CONVNEXT = {"model_type": "convnext", "num_channels": 3, "hidden_sizes": [8, 16], "depths": [1, 1],
                 "num_stages": 2, "patch_size": 4, "layer_scale_init_value": 0.0}
VISION = {"config": TINY_CONVNEXT, "image_size": 16}
TEXT = {"config": NO_DROPOUT_BERT, "tokenizer": MINILM, "max_length": 16}


def dual(seed: int = 0, **kwargs) -> DualEncoderModel:
    torch.manual_seed(seed)
    return DualEncoderModel(kwargs.pop("vision", VISION), kwargs.pop("text", TEXT), projection_dim=8, **kwargs)


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Arrow caches of local builders go to the test's folder, not ~/.cache."""
    import datasets

    cache = tmp_path / "hf_cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


# ----------------------------------------------------------------------------------------------- logit scale


def test_logit_scale_starts_at_clip_value_and_never_exceeds_the_clamp():
    model = dual()
    assert float(model.temperature.log_scale.detach()) == pytest.approx(math.log(1 / 0.07), abs=1e-6)
    assert float(model.logit_scale().detach()) == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        model.temperature.log_scale.fill_(math.log(1000.0))  # a parameter pushed far above the clamp
    assert float(model.logit_scale().detach()) == pytest.approx(100.0, rel=1e-6)
    # the optimiser keeps pushing the scale up (aligned pairs: a larger scale always lowers the loss), with a
    # huge learning rate; after every step the scale the loss uses, and the parameter itself, stay at <= 100
    model = dual()
    learner = Learner(model, CLIPLoss(negatives=InBatchNegatives(gather=False)))
    optimizer = torch.optim.SGD([model.temperature.log_scale], lr=1e4)
    x = torch.randn(6, 8)
    used = []
    for step in range(1, 6):
        batch = EmbeddingBatch(x, x + 0.01 * torch.randn(6, 8), logit_scale=model.logit_scale())
        used.append(float(batch.logit_scale.detach()))
        learner.objective(batch).backward()
        optimizer.step()
        optimizer.zero_grad()
        learner.after_optimizer_step(step, 5)
        assert float(model.temperature.log_scale.detach()) <= math.log(100.0) + 1e-6
        assert float(model.logit_scale().detach()) <= 100.0 + 1e-4
    assert used[0] < 15 and max(used) == pytest.approx(100.0, rel=1e-5)  # it did reach the clamp
    from mmcontrast.export.dual_encoder import to_transformers

    assert float(to_transformers(model).logit_scale.exp()) <= 100.0 + 1e-4


# ----------------------------------------------------------------------------------------------- objectives


NAIVE_SIMILARITY = {
    "dot": lambda a, b: float(a @ b),
    "euclidean": lambda a, b: -float((a - b).norm()),
    "squared_euclidean": lambda a, b: -float(((a - b) ** 2).sum()),
    "manhattan": lambda a, b: -float((a - b).abs().sum()),
}


def naive_sigmoid_loss(query, candidates, positive_index, scale, bias, similarity="dot"):
    total = torch.zeros((), dtype=torch.float64)
    for i in range(query.shape[0]):
        for j in range(candidates.shape[0]):
            z = 1.0 if j == int(positive_index[i]) else -1.0
            logit = scale * NAIVE_SIMILARITY[similarity](query[i].double(), candidates[j].double()) + bias
            total += -math.log(1.0 / (1.0 + math.exp(-z * logit)))
    return total / query.shape[0]


@pytest.mark.parametrize("extra", [0, 3], ids=["square", "with_hard_negatives"])
def test_siglip_loss_equals_naive_double_loop(extra):
    g = torch.Generator().manual_seed(0)
    query = F.normalize(torch.randn(5, 7, generator=g), dim=-1)
    candidates = F.normalize(torch.randn(5 + extra, 7, generator=g), dim=-1)
    index = torch.tensor([0, 1, 2, 3, 4])
    for scale, bias in [(10.0, -10.0), (3.0, 0.5)]:
        got = sigmoid_loss(query, candidates, index, scale, bias)
        assert got.dtype == torch.float32
        assert float(got) == pytest.approx(float(naive_sigmoid_loss(query, candidates, index, scale, bias)), rel=1e-5)


@pytest.mark.parametrize("similarity", ["euclidean", "squared_euclidean", "manhattan"])
def test_siglip_and_clip_take_a_distance_as_negated_similarity(similarity):
    g = torch.Generator().manual_seed(2)
    image, text = torch.randn(5, 6, generator=g), torch.randn(5, 6, generator=g)
    unit_i, unit_t = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    siglip = SigLIP(negatives=InBatchNegatives(gather=False), similarity=similarity, bias=-1.0)
    got = siglip(EmbeddingBatch(image, text, logit_scale=torch.tensor(4.0)))
    expected = naive_sigmoid_loss(unit_i, unit_t, torch.arange(5), 4.0, -1.0, similarity)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    clip = CLIPLoss(negatives=InBatchNegatives(gather=False), similarity=similarity)
    logits = torch.tensor([[NAIVE_SIMILARITY[similarity](a, b) for b in unit_t.double()] for a in unit_i.double()])
    naive = (F.cross_entropy(4.0 * logits, torch.arange(5)) + F.cross_entropy(4.0 * logits.T, torch.arange(5))) / 2
    assert float(clip(EmbeddingBatch(image, text, logit_scale=torch.tensor(4.0)))) == pytest.approx(float(naive), rel=1e-5)
    cfg = load_config(Path(__file__).parents[1] / "configs/image_text/offline/siglip.yaml",
                      [f"objective.similarity={similarity}"])  # a config key, checked at config time
    assert cfg.objective["similarity"] == similarity


def test_siglip_objective_uses_model_scale_and_learnable_bias_and_accumulates_in_float32():
    g = torch.Generator().manual_seed(1)
    image, text = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    objective = SigLIP(negatives=InBatchNegatives(gather=False))
    scale = torch.tensor(10.0, requires_grad=True)
    loss = objective(EmbeddingBatch(image, text, logit_scale=scale))
    expected = naive_sigmoid_loss(F.normalize(image, dim=-1), F.normalize(text, dim=-1), torch.arange(4), 10.0, -10.0)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    loss.backward()
    assert objective.bias.grad is not None and scale.grad is not None
    low = objective(EmbeddingBatch(image.bfloat16(), text.bfloat16(), logit_scale=torch.tensor(10.0)))
    assert low.dtype == torch.float32
    with pytest.raises(ValueError, match="needs a logit scale"):
        objective(EmbeddingBatch(image, text))


def test_clip_loss_equals_transformers_clip_loss_and_naive_loop():
    from transformers.models.vision_text_dual_encoder.modeling_vision_text_dual_encoder import (
        image_text_contrastive_loss,
    )

    g = torch.Generator().manual_seed(2)
    image, text = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    scale = torch.tensor(1 / 0.07)
    loss = CLIPLoss(negatives=InBatchNegatives(gather=False))(EmbeddingBatch(image, text, logit_scale=scale))
    i, t = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    logits_per_text = t @ i.T * scale
    assert float(loss) == pytest.approx(float(image_text_contrastive_loss(logits_per_text)), rel=1e-5)
    naive = 0.0
    for a in range(6):  # -log softmax of the matching pair, both directions
        naive -= float(torch.log_softmax(i[a] @ t.T * scale, 0)[a]) + float(torch.log_softmax(t[a] @ i.T * scale, 0)[a])
    assert float(loss) == pytest.approx(naive / 12, rel=1e-5)
    with pytest.raises(ValueError, match="leave objective.temperature unset"):
        CLIPLoss(temperature=0.1)(EmbeddingBatch(image, text, logit_scale=scale))


# ----------------------------------------------------------------------------------------------- model


def test_dual_encoder_routes_images_and_captions_and_embeds_duplicates_once():
    model = dual().eval()
    pictures = images(3)
    captions = ["a photo of a bag.", "a photo of a coat.", "a photo of a bag."]
    step = flatten_views(model, ViewBatch(query=pictures, positive=captions))
    inputs, layout, crops = step.inputs, step.layout, step.crop_inputs
    assert crops == [] and inputs["text"]["input_ids"].shape[0] == 2  # the duplicate caption is tokenised once
    assert inputs["text_index"].tolist() == [0, 1, 0]
    with torch.no_grad():
        query, positive, negatives = split_embeddings(model(inputs), layout)
    assert negatives is None and query.shape == positive.shape == (3, 8)
    assert torch.allclose(query, model.encode(pictures), atol=1e-5)
    assert torch.allclose(positive, model.encode(captions), atol=1e-5)
    with pytest.raises(ValueError, match="images as queries"):
        flatten_views(model, ViewBatch(query=captions, positive=pictures))


@pytest.mark.parametrize("lock", ["vision", "text", "both"])
def test_locked_towers_get_no_gradient_and_stay_bit_identical(lock):
    vision = {"config": {**TINY_RESNET, "num_channels": 3}, "image_size": 16}  # BatchNorm: buffers must not move
    model = dual(vision=vision, lock_vision=lock in ("vision", "both"), lock_text=lock in ("text", "both"))
    locked = [t for name, t in (("vision", model.vision), ("text", model.text)) if lock in (name, "both")]
    trained = [t for name, t in (("vision", model.vision), ("text", model.text)) if lock not in (name, "both")]
    before = {id(t): {k: v.clone() for k, v in t.encoder.state_dict().items()} for t in (model.vision, model.text)}
    heads = {id(t): t.head.linear.weight.detach().clone() for t in (model.vision, model.text)}
    learner = Learner(model, CLIPLoss(negatives=InBatchNegatives(gather=False))).train()
    optimizer = torch.optim.AdamW([p for p in learner.parameters() if p.requires_grad], lr=1e-2)
    view = VIEWS.get("image_caption")(seed=0)
    for step in range(3):
        rows = [{"image": im, "caption": [f"photo {i % 3}", f"picture {i % 3}"], "index": i}
                for i, im in enumerate(images(8, seed=step))]
        loss, _ = learner(flatten_views(model, view(collate_rows(rows))))
        loss.backward()
        for tower in locked:
            assert all(p.grad is None and not p.requires_grad for p in tower.encoder.parameters())
        for tower in trained:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tower.encoder.parameters())
        assert all(t.head.linear.weight.grad is not None for t in (model.vision, model.text))
        optimizer.step()
        optimizer.zero_grad()
    for tower in locked:
        assert not tower.encoder.training  # frozen BatchNorm statistics, no dropout
        after = tower.encoder.state_dict()
        for key, value in before[id(tower)].items():
            assert torch.equal(value, after[key]), key  # weights AND buffers bit-identical
    for tower in trained:
        assert any(not torch.equal(v, tower.encoder.state_dict()[k]) for k, v in before[id(tower)].items())
    for tower in (model.vision, model.text):  # projections always train
        assert not torch.equal(heads[id(tower)], tower.head.linear.weight)
    model.encode(images(2))  # evaluation in the middle of training must not unlock a backbone's mode
    assert all(not t.encoder.training for t in locked)


# ----------------------------------------------------------------------------------------------- data


def caption_folder(root: Path, n: int = 6, bad: int | None = None, columns: tuple[str, ...] = ("caption",)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["file_name," + ",".join(columns)]
    for i in range(n):
        name = f"{i}.png"
        if i == bad:
            (root / name).write_bytes(b"this is not a png")
        else:
            Image.fromarray(np.full((10 + i, 12, 3), 20 * i, dtype=np.uint8)).save(root / name)
        lines.append(name + "," + ",".join(f"{c} of image {i}" for c in columns))
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def test_imagefolder_with_metadata_captions_several_per_image(tmp_path):
    folder = caption_folder(tmp_path / "data", columns=("caption_1", "caption_2"))
    rows = build_dataset({"name": "image_captions", "path": "imagefolder", "data_dir": str(folder),
                          "caption_column": ["caption_1", "caption_2"], "image_size": 8})
    assert len(rows) == 6
    row = rows[3]
    assert row["image"].shape == (3, 8, 8) and row["image"].dtype == torch.uint8  # resized so batches stack
    assert row["caption"] == ["caption_1 of image 3", "caption_2 of image 3"]
    view = VIEWS.get("image_caption")(seed=0)
    batch = collate_rows([dict(rows[i], index=i) for i in range(6)])
    drawn = {c for _ in range(20) for c in view(batch).positive}
    assert drawn == {f"caption_{k} of image {i}" for k in (1, 2) for i in range(6)}  # both captions get drawn
    again = VIEWS.get("image_caption")(seed=0)
    assert again(batch).positive == VIEWS.get("image_caption")(seed=0)(batch).positive  # seeded


def test_undecodable_image_names_the_row_and_missing_caption_column_names_the_columns(tmp_path):
    folder = caption_folder(tmp_path / "data", bad=4)
    rows = build_dataset({"name": "image_captions", "path": "imagefolder", "data_dir": str(folder)})
    rows[3]
    with pytest.raises(DataError, match=r"row 4: .*4\.png.*cannot decode image"):
        rows[4]
    with pytest.raises(DataError, match=r"caption column\(s\) \['text'\] not found; .*columns: image, caption"):
        build_dataset({"name": "image_captions", "path": "imagefolder", "data_dir": str(folder),
                       "caption_column": "text"})
    view = VIEWS.get("image_caption")(caption_column="text", seed=0)
    with pytest.raises(DataError, match="column 'text' not found; the rows have columns: image, caption"):
        view({"image": images(2), "caption": ["a", "b"]})
    with pytest.raises(DataError, match="row 7.*empty or non-string caption"):
        VIEWS.get("image_caption")(seed=0)({"image": images(2), "caption": [["a"], [""]], "index": [6, 7]})


@pytest.mark.usefixtures("fashion_mnist")
def test_labelled_set_becomes_templated_captions():
    rows = build_dataset({"name": "labelled_captions", "dataset": {"name": "fashion_mnist", "split": "test",
                                                                   "limit": 20},
                          "templates": ["a photo of the {}.", "a sketch of the {}."]})
    row = rows[0]
    name = CLASS_NAMES["fashion_mnist"][row["label"]]
    assert row["caption"] == [f"a photo of the {name}.", f"a sketch of the {name}."]
    assert row["image"].shape == (1, 28, 28)
    with pytest.raises(DataError, match="exactly once"):
        build_dataset({"name": "labelled_captions", "dataset": {"name": "fashion_mnist", "split": "test"},
                       "templates": ["no placeholder"]})
    two = build_dataset({"name": "labelled_captions", "dataset": {"name": "fashion_mnist", "split": "test",
                                                                  "limit": 50}, "class_names": ["a", "b"]})
    bad = next(i for i in range(50) if int(two.rows[i]["label"]) > 1)
    with pytest.raises(DataError, match=rf"row {bad}: column 'label' must be a class index in \[0, 1\]"):
        two[bad]


# ----------------------------------------------------------------------------------------------- evaluation


class TableEncoder:
    """Images (N, 1, 1, D) embed as their pixels; texts through a fixed table."""

    def __init__(self, table: dict[str, torch.Tensor]) -> None:
        self.table = table

    def encode(self, items, batch_size: int = 128):
        if isinstance(items, torch.Tensor):
            return items.float().flatten(1)
        return torch.stack([self.table[t] for t in items])


def test_zero_shot_accuracy_equals_naive_prompt_ensemble():
    g = torch.Generator().manual_seed(3)
    names, templates = ["cat", "dog", "car"], ["a {}.", "the {}!"]
    table = {t.format(n): torch.randn(4, generator=g) for n in names for t in templates}
    pictures = torch.randn(12, 1, 1, 4, generator=g)
    labels = torch.randint(0, 3, (12,), generator=g)
    evaluator = ZeroShotEvaluator(pictures, labels, names, templates, batch_size=5)
    got = evaluator(TableEncoder(table))
    correct = 0
    for i in range(12):
        image = F.normalize(pictures[i].flatten(), dim=0)
        scores = []
        for n in names:
            mean = sum(F.normalize(table[t.format(n)], dim=0) for t in templates) / len(templates)
            scores.append(float(image @ F.normalize(mean, dim=0)))
        correct += int(np.argmax(scores) == int(labels[i]))
    assert got["zero_shot/accuracy"] == pytest.approx(correct / 12)
    assert got["zero_shot/chance"] == pytest.approx(1 / 3) and evaluator.primary_metric == "zero_shot/accuracy"
    assert 0 < correct < 12  # the check can fail both ways


def test_cross_modal_recall_equals_naive_ranking_with_duplicate_captions():
    g = torch.Generator().manual_seed(4)
    texts = [f"t{i}" for i in range(7)]
    table = {t: torch.randn(5, generator=g) for t in texts}
    pictures = torch.randn(6, 1, 1, 5, generator=g)
    captions = [["t0", "t1"], ["t2"], ["t3", "t4"], ["t5"], ["t6", "t0"], ["t2", "t5"]]  # t0, t2, t5 shared
    got = CrossModalRetrievalEvaluator(pictures, captions, ks=(1, 2, 5))(TableEncoder(table))
    image = F.normalize(pictures.flatten(1), dim=-1)
    text = F.normalize(torch.stack([table[t] for t in texts]), dim=-1)
    sim = image @ text.T
    for k in (1, 2, 5):
        i2t = np.mean([any(texts[j] in captions[i] for j in sim[i].argsort(descending=True)[:k]) for i in range(6)])
        t2i = np.mean([any(texts[j] in captions[i] for i in sim[:, j].argsort(descending=True)[:k])
                       for j in range(7)])
        assert got[f"retrieval/image_to_text/R@{k}"] == pytest.approx(i2t)
        assert got[f"retrieval/text_to_image/R@{k}"] == pytest.approx(t2i)
    assert got["retrieval/mean_recall"] == pytest.approx(np.mean([v for k, v in got.items() if "R@" in k]))


# ----------------------------------------------------------------------------------------------- config


def config(tmp_path: Path, **extra) -> Path:
    return write_config(tmp_path / "cfg.yaml", {
        "data": {"train": {"name": "labelled_captions", "dataset": {"name": "fashion_mnist", "split": "test",
                                                                    "limit": 16}}},
        "view": {"name": "image_caption"},
        "encoder": {"name": "dual_encoder", "vision": VISION, "text": TEXT, "projection_dim": 8},
        "objective": {"name": "clip"},
        **extra,
    })


def test_config_errors_name_the_key(tmp_path):
    build_learner(load_config(config(tmp_path)))  # the valid base builds
    with pytest.raises(ValueError, match=r"unset \['head'\]"):
        build_model(load_config(config(tmp_path, head={"name": "mlp"})))
    with pytest.raises(ValueError, match="choose objective 'clip' or 'siglip'"):
        build_learner(load_config(config(tmp_path, objective={"name": "info_nce"})))
    bad_key = {"name": "dual_encoder", "vision": {**VISION, "image_sise": 8}, "text": TEXT}
    with pytest.raises(ValueError, match="unknown key 'encoder.vision.image_sise' \\(did you mean 'image_size'"):
        build_model(load_config(config(tmp_path, encoder=bad_key)))
    resnet = {"name": "dual_encoder", "vision": {"config": {**TINY_RESNET, "num_channels": 3}}, "text": TEXT}
    with pytest.raises(ValueError, match=r"VisionTextDualEncoderModel.*\(1, 64, 1, 1\).*export.enabled=false"):
        build_model(load_config(config(tmp_path, encoder=resnet)))
    build_model(load_config(config(tmp_path, encoder=resnet), ["export.enabled=false"]))  # trains anyway
    grey = {"name": "dual_encoder", "vision": {"config": {**TINY_CONVNEXT, "num_channels": 1}}, "text": TEXT}
    with pytest.raises(ValueError, match="convert every image to RGB"):
        build_model(load_config(config(tmp_path, encoder=grey)))
    mean = {"name": "dual_encoder", "vision": VISION, "text": {**TEXT, "pooling": "mean"}}
    with pytest.raises(ValueError, match="pooler_output"):
        build_model(load_config(config(tmp_path, encoder=mean)))
