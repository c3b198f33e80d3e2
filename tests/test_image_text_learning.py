"""A short real CLIP run on Fashion-MNIST with templated captions (small ConvNeXt image tower, the packaged
MiniLM as a locked text tower): zero-shot accuracy on held-out test images goes far above chance, and the
exported VisionTextDualEncoderModel folder gives mmcontrast's embeddings through ``AutoModel`` and its zero-shot
predictions through the transformers pipeline, offline."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from conftest import MINILM, ROOT, fashion_mnist_root
from helpers import write_config

from mmcontrast.config import load_config
from mmcontrast.data import build_dataset
from mmcontrast.data.image_text import CLASS_NAMES
from mmcontrast.evaluation.zero_shot import ZeroShotEvaluator
from mmcontrast.training import train

pytestmark = pytest.mark.slow

TEMPLATES = ["a photo of the {}.", "a picture of the {}.", "a black and white photo of the {}."]
CONVNEXT = {"model_type": "convnext", "num_channels": 3, "hidden_sizes": [32, 64, 128], "depths": [1, 1, 1],
            "num_stages": 3, "patch_size": 4, "layer_scale_init_value": 0.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    fashion_mnist_root()
    tmp = tmp_path_factory.mktemp("clip")
    cfg = {
        "name": "clip-test", "seed": 0, "output_dir": str(tmp / "run"),
        "data": {"train": {"name": "labelled_captions", "templates": TEMPLATES,
                           "dataset": {"name": "fashion_mnist", "split": "train", "limit": 6000}}},
        "view": {"name": "image_caption"},
        "encoder": {"name": "dual_encoder", "projection_dim": 64, "lock_text": True,
                    "vision": {"config": CONVNEXT, "image_size": 32, "mean": [0.286], "std": [0.353]},
                    "text": {"model": MINILM, "pooling": "cls", "max_length": 16}},
        "objective": {"name": "clip"},
        "evaluators": [{"name": "zero_shot", "templates": TEMPLATES,
                        "data": {"name": "fashion_mnist", "split": "test", "limit": 1000}}],
        "train": {"batch_size": 64, "max_steps": 40, "optimizer": "adamw", "lr": 2e-3, "scheduler": "cosine",
                  "warmup_ratio": 0.05, "progress_bar": False, "log_every": 10},
    }
    path = write_config(tmp, cfg)
    return train(load_config(path))


def test_short_clip_run_classifies_held_out_images_zero_shot_far_above_chance(run):
    before, after = run.initial_metrics["zero_shot/accuracy"], run.final_metrics["zero_shot/accuracy"]
    assert run.final_metrics["zero_shot/chance"] == pytest.approx(0.1)
    # 1,000 test images: chance is 0.10 +- 0.01; an untrained model sits near it
    assert before < 0.25
    assert after > 0.5 and after > before + 0.3


def test_export_matches_mmcontrast_through_automodel_and_the_zero_shot_pipeline(run):
    from transformers import AutoModel, AutoProcessor, VisionTextDualEncoderModel, pipeline

    path, model = run.export_path, run.model
    hf = AutoModel.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    assert isinstance(hf, VisionTextDualEncoderModel)
    assert float(hf.logit_scale.detach().exp()) == pytest.approx(float(model.logit_scale().detach()), rel=1e-6)

    test = build_dataset({"name": "fashion_mnist", "split": "test", "start": 5000, "limit": 32})
    images = test.images  # (32, 1, 28, 28) uint8, resized to 32x32 by both sides
    pil = [Image.fromarray(image[0].numpy(), mode="L") for image in images]
    names = CLASS_NAMES["fashion_mnist"]
    prompts = [TEMPLATES[0].format(n) for n in names]
    with torch.no_grad():
        hf_images = hf.get_image_features(**processor(images=pil, return_tensors="pt")).pooler_output
        hf_texts = hf.get_text_features(**processor(text=prompts, padding=True, return_tensors="pt")).pooler_output
    assert (hf_images - model.encode(images)).abs().max().item() < 1e-5
    assert (hf_texts - model.encode(prompts)).abs().max().item() < 1e-5

    ours = ZeroShotEvaluator(images, test.labels, names, TEMPLATES[:1]).predict(model)
    classifier = pipeline("zero-shot-image-classification", model=str(path), device="cpu")
    outputs = classifier(pil, candidate_labels=names, hypothesis_template=TEMPLATES[0])
    theirs = torch.tensor([names.index(out[0]["label"]) for out in outputs])
    assert torch.equal(theirs, ours)
    assert len(set(ours.tolist())) > 3  # real predictions, not one label for everything
    for file in path.rglob("*"):  # no path of this machine in the model, processor and card files
        if file.is_file() and file.suffix in (".json", ".md", ".txt"):
            text = file.read_text(encoding="utf-8")
            assert str(ROOT) not in text and str(path.parent) not in text, file


def test_the_readme_clip_quickstart_config_learns_on_digits(tmp_path):
    """configs/clip_quickstart.yaml (the README's first command) with half its steps: zero-shot accuracy on the
    450 held-out digits goes from about chance to far above it, and the export runs in the transformers
    zero-shot pipeline with the same top label as mmcontrast."""
    from transformers import pipeline

    cfg = load_config(ROOT / "configs" / "clip_quickstart.yaml", [
        f"output_dir={tmp_path / 'run'}", "train.max_steps=30", "train.progress_bar=false", "train.log_with=[]"])
    result = train(cfg)
    before, after = result.initial_metrics["zero_shot/accuracy"], result.final_metrics["zero_shot/accuracy"]
    assert before < 0.25 and after > 0.6, (before, after)

    test = build_dataset({"name": "sklearn_digits", "split": "test"})
    names, template = CLASS_NAMES["sklearn_digits"], "a photo of the number {}."
    images = test.images[:16]  # (16, 1, 8, 8) uint8
    ours = ZeroShotEvaluator(images, test.labels[:16], names, [template]).predict(result.model)
    classifier = pipeline("zero-shot-image-classification", model=str(result.export_path), device="cpu")
    pil = [Image.fromarray(image[0].numpy(), mode="L") for image in images]
    theirs = torch.tensor([names.index(out[0]["label"])
                           for out in classifier(pil, candidate_labels=names, hypothesis_template=template)])
    assert torch.equal(theirs, ours)
    assert (ours == test.labels[:16]).float().mean() > 0.5
