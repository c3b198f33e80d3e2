"""Every objective of mmcontrast on the same budget, in one run: Fashion-MNIST weighted-kNN accuracy for image
training, STS-B dev Spearman for text training.

Image (Fashion-MNIST, a tiny HF ResNet built from a config: hidden sizes 16-32-64, one basic block each, 16x16
input, ``--image-steps`` optimizer steps at batch 128 on the first 50,000 training images). Two regimes, marked in
the table:

- ``labels``: the label-aware losses (SupCon, triplet with or without a miner, pairwise contrastive with a miner,
  lifted structured, circle, multi-similarity with its miner, soft nearest neighbour), two mildly augmented views
  per image and the labels, no projection head, AdamW at lr 1e-2 (the settings of ``tests/test_metric_learning``);
- ``self-supervised``: every method's own offline config (``configs/vision/offline``: views, heads, predictor,
  target, optimizer) with only the backbone, input size, batch and steps changed; NCE, N-pair and alignment +
  uniformity use SimCLR's config with their objective swapped in.

Evaluation: weighted kNN (k=200, T=0.1, cosine; Wu et al. 2018) on the frozen backbone, memory = training images
50,000-59,999 (never trained on), queries = the 10,000 test images; the untrained encoder (same seed and
architecture) is the first row.

Text (the packaged all-MiniLM-L6-v2, [CLS] before the pooler, max length 32): ``configs/simcse_sup_offline.yaml``
(SNLI dev triplets: anchor, entailment as positive, contradiction as hard negative) for ``--text-steps`` steps at
batch 32, each objective swapped in with settings for normalised sentence embeddings (not tuned), then STS-B dev
Spearman; the untrained model is the first row.

Nothing is asserted: it measures. Hyperparameters are each method's defaults or the listed ones, not tuned per
method, so the table compares objectives under one small budget, not their best results.

    .venv/bin/python benchmarks/objectives.py                                  # full: 300 image / 60 text steps
    .venv/bin/python benchmarks/objectives.py --image-steps 100 --text-steps 20   # reduced
    .venv/bin/python benchmarks/objectives.py --only circle nce --skip-text
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

QUIET = ["evaluators=[]", "train.checkpoint_every=null", "train.progress_bar=false", "train.log_with=[]",
         "train.eval_at_start=false", "export.enabled=false"]
TINY = ["data.train.limit=50000", "encoder.image_size=16", "encoder.config.hidden_sizes=[16,32,64]",
        "encoder.config.depths=[1,1,1]", "encoder.config.embedding_size=16", "train.batch_size=128",
        "train.warmup_ratio=0.0"]
TWO_VIEWS_16 = ["view.augment.size=16"]
LABELS = ["head=null", "view.augment.crop_scale=[0.8,1.0]", "view.augment.jitter_p=0.0", "train.optimizer=adamw",
          "train.lr=1e-2"]
BALANCED = ["data.batch_sampler={name: class_balanced, samples_per_class: 16}"]
SUPCON = "vision/offline/supcon.yaml"
SIMCLR = "vision/offline/simclr.yaml"

# row -> (config under configs/, overrides, regime)
IMAGE: dict[str, tuple[str, list[str], str]] = {
    "supcon": (SUPCON, LABELS, "labels"),
    "triplet (batch-hard)": (SUPCON, LABELS + ["objective={name: triplet, distance: cosine, margin: 0.2}"], "labels"),
    "triplet + semi_hard miner": ("metric_learning/offline/triplet_semi_hard.yaml", LABELS + BALANCED, "labels"),
    "pairwise_contrastive + batch_hard miner": (
        SUPCON, LABELS + ["objective={name: pairwise_contrastive, distance: cosine, margin: 0.5}",
                          "miner={name: batch_hard}"], "labels"),
    "lifted_structured": ("metric_learning/offline/lifted_structured.yaml", LABELS, "labels"),
    "circle": ("metric_learning/offline/circle.yaml", LABELS, "labels"),
    "multi_similarity + miner": ("metric_learning/offline/multi_similarity.yaml", LABELS + BALANCED, "labels"),
    "soft_nearest_neighbour": (SUPCON, LABELS + ["objective={name: soft_nearest_neighbour}"], "labels"),
    "nt_xent (SimCLR)": (SIMCLR, TWO_VIEWS_16, "self-supervised"),
    "info_nce (symmetric)": (SIMCLR, TWO_VIEWS_16 + ["objective={name: info_nce, temperature: 0.2, symmetric: true}"],
                             "self-supervised"),
    "nce": (SIMCLR, TWO_VIEWS_16 + ["objective={name: nce}"], "self-supervised"),
    "n_pair": (SIMCLR, TWO_VIEWS_16 + ["objective={name: n_pair}"], "self-supervised"),
    "align_uniform": (SIMCLR, TWO_VIEWS_16 + ["objective={name: align_uniform}"], "self-supervised"),
    "byol": ("vision/offline/byol.yaml", TWO_VIEWS_16, "self-supervised"),
    "simsiam": ("vision/offline/simsiam.yaml", TWO_VIEWS_16, "self-supervised"),
    "barlow_twins": ("vision/offline/barlow_twins.yaml", TWO_VIEWS_16, "self-supervised"),
    "vicreg": ("vision/offline/vicreg.yaml", TWO_VIEWS_16, "self-supervised"),
    "swav": ("vision/offline/swav.yaml", ["view.global_size=16", "view.local_size=8"], "self-supervised"),
}

# text row -> objective component (on configs/simcse_sup_offline.yaml)
TEXT: dict[str, str] = {
    "info_nce (SimCSE)": "{name: info_nce, temperature: 0.05}",
    "nt_xent": "{name: nt_xent, temperature: 0.05}",
    "nce": "{name: nce, temperature: 0.05}",
    "n_pair": "{name: n_pair, normalize: true, temperature: 0.05, l2_reg: 0.0}",
    "triplet (batch-hard)": "{name: triplet, distance: cosine, margin: 0.2}",
    "pairwise_contrastive": "{name: pairwise_contrastive, distance: cosine, margin: 0.5}",
    "lifted_structured": "{name: lifted_structured, normalize: true}",
    "circle": "{name: circle, margin: 0.25, gamma: 64.0}",
    "multi_similarity": "{name: multi_similarity}",
    "soft_nearest_neighbour": "{name: soft_nearest_neighbour, temperature: 0.05}",
    "align_uniform": "{name: align_uniform}",
}


def image_rows(steps: int, only: list[str] | None) -> list[dict]:
    import torch
    from accelerate.utils import set_seed

    from mmcontrast.config import load_config
    from mmcontrast.data.images import fashion_mnist
    from mmcontrast.evaluation.knn import weighted_knn_predict
    from mmcontrast.training import train
    from mmcontrast.training.build import build_model

    memory, test = fashion_mnist("train", start=50000), fashion_mnist("test")

    def knn(model) -> float:
        predicted = weighted_knn_predict(model.encode(memory.images), memory.labels, model.encode(test.images), 10,
                                         k=200, temperature=0.1)
        return (predicted == test.labels).float().mean().item()

    rows = []
    cfg = load_config(REPO_ROOT / "configs" / SUPCON, TINY + LABELS + QUIET)
    set_seed(cfg.seed)
    untrained = knn(build_model(cfg))
    rows.append({"objective": "untrained encoder", "regime": "-", "knn": untrained, "seconds": 0.0})
    print(f"{'untrained encoder':<42}{'-':<17}kNN {untrained:.4f}", flush=True)
    for name, (config, overrides, regime) in IMAGE.items():
        if only and not any(o in name for o in only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(REPO_ROOT / "configs" / config,
                              [f"output_dir={tmp}", f"train.max_steps={steps}", *TINY, *overrides, *QUIET])
            start = time.perf_counter()
            result = train(cfg)
            seconds = time.perf_counter() - start
        accuracy = knn(result.model)
        rows.append({"objective": name, "regime": regime, "knn": accuracy, "seconds": seconds,
                     "config": config, "overrides": overrides})
        print(f"{name:<42}{regime:<17}kNN {accuracy:.4f}  ({accuracy - untrained:+.4f}, {seconds:.0f} s)", flush=True)
        del result
    return rows


def text_rows(steps: int, only: list[str] | None) -> list[dict]:
    from mmcontrast.config import load_config
    from mmcontrast.evaluation.base import run_evaluators
    from mmcontrast.training import train
    from mmcontrast.training.build import build_evaluators, build_model

    base = REPO_ROOT / "configs" / "simcse_sup_offline.yaml"
    common = [f"train.max_steps={steps}", "train.batch_size=32", *QUIET]
    cfg = load_config(base, common)
    evaluators = build_evaluators(load_config(base))

    def spearman(model) -> float:
        return run_evaluators(evaluators, model)["sts-dev/spearman"]

    untrained = spearman(build_model(cfg))
    rows = [{"objective": "untrained all-MiniLM-L6-v2 [CLS]", "spearman": untrained, "seconds": 0.0}]
    print(f"{'untrained all-MiniLM-L6-v2 [CLS]':<42}STS-B dev {untrained:.4f}", flush=True)
    for name, objective in TEXT.items():
        if only and not any(o in name for o in only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(base, [f"output_dir={tmp}", f"objective={objective}", *common])
            start = time.perf_counter()
            result = train(cfg)
            seconds = time.perf_counter() - start
        value = spearman(result.model)
        rows.append({"objective": name, "component": objective, "spearman": value, "seconds": seconds})
        print(f"{name:<42}STS-B dev {value:.4f}  ({value - untrained:+.4f}, {seconds:.0f} s)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-steps", type=int, default=300)
    parser.add_argument("--text-steps", type=int, default=60)
    parser.add_argument("--only", nargs="+", default=None, help="rows whose name contains one of these")
    parser.add_argument("--skip-image", action="store_true")
    parser.add_argument("--skip-text", action="store_true")
    parser.add_argument("--output", type=Path,
                        default=REPO_ROOT / "benchmarks" / "results" / "objectives_cpu.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.chdir(REPO_ROOT)  # the configs' data paths are relative to the repository root

    start = time.perf_counter()
    image = [] if args.skip_image else image_rows(args.image_steps, args.only)
    text = [] if args.skip_text else text_rows(args.text_steps, args.only)
    total = time.perf_counter() - start

    print(f"\nFashion-MNIST, {args.image_steps} steps x 128, kNN (k=200) on frozen backbone features")
    print(f"{'objective':<42}{'regime':<17}{'kNN':>8}{'gain':>9}{'train s':>9}")
    for row in image:
        gain = row["knn"] - image[0]["knn"]
        print(f"{row['objective']:<42}{row['regime']:<17}{row['knn']:>8.4f}{gain:>+9.4f}{row['seconds']:>9.0f}")
    if text:
        print(f"\nSTS-B dev Spearman, all-MiniLM-L6-v2 on SNLI triplets, {args.text_steps} steps x 32")
        print(f"{'objective':<42}{'Spearman':>10}{'gain':>9}{'train s':>9}")
        for row in text:
            gain = row["spearman"] - text[0]["spearman"]
            print(f"{row['objective']:<42}{row['spearman']:>10.4f}{gain:>+9.4f}{row['seconds']:>9.0f}")
    import torch

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "objectives", "image_steps": args.image_steps, "text_steps": args.text_steps,
        "image_batch_size": 128, "text_batch_size": 32, "device": "cpu", "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
        "total_seconds": total, "image": image, "text": text,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }, indent=2))
    print(f"\nwrote {args.output} ({total:.0f} s)")


if __name__ == "__main__":
    main()
