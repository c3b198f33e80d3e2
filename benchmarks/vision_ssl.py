"""Every vision self-supervised method of mmcontrast on Fashion-MNIST, with the same small HF ResNet and the same
step budget, in one run; beside the untrained encoder and raw pixels.

Each method is its offline config ``configs/vision/offline/<method>.yaml`` (Fashion-MNIST 60k train, a ResNet
built from a config: hidden sizes 32-64-128-256, one basic block each, input resized to 32x32), trained for
``--steps`` optimizer steps at ``--batch-size`` with the same AdamW schedule, then evaluated on frozen features:
weighted kNN (k=200, T=0.1, cosine; Wu et al. 2018) and a linear probe (L-BFGS on standardised features),
60k train / 10k test. Raw pixels and the untrained encoder (same seed, same architecture) go through the same
evaluator. Prints a table (kNN, linear probe, images/s of training = steps x batch x views / training seconds)
and writes a JSON result. Nothing is asserted: it measures.

    .venv/bin/python benchmarks/vision_ssl.py                      # all methods, 300 steps each
    .venv/bin/python benchmarks/vision_ssl.py --steps 100 --methods simclr byol
    .venv/bin/python benchmarks/vision_ssl.py --methods swav --set train.lr=5e-4 --update   # try a setting
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

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from mmcontrast.config import load_config  # noqa: E402
from mmcontrast.evaluation.baselines import PixelEncoder  # noqa: E402
from mmcontrast.evaluation.factories import labelled_images  # noqa: E402
from mmcontrast.evaluation.frozen import FrozenFeaturesEvaluator  # noqa: E402
from mmcontrast.training import train  # noqa: E402
from mmcontrast.training.build import build_model  # noqa: E402

METHODS = ["simclr", "moco_v2", "moco_v3", "byol", "simsiam", "barlow_twins", "vicreg", "swav", "dino", "instdisc",
           "pirl", "supcon"]
VIEWS_PER_SAMPLE = {"swav": 6, "dino": 6}  # 2 global + 4 local crops; every other method encodes 2 views


def config_path(method: str) -> Path:
    return REPO_ROOT / "configs" / "vision" / "offline" / f"{method}.yaml"


def evaluator(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
              test_labels: torch.Tensor) -> FrozenFeaturesEvaluator:
    return FrozenFeaturesEvaluator(train_images, train_labels, test_images, test_labels, k=200, temperature=0.1,
                                   name="probe", batch_size=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=None, help="override every config's lr")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config overrides for every method run (e.g. train.lr=5e-4 'head.hidden_dims=[2048]')")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "vision_ssl_cpu.json")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of methods not run now from an existing --output (rerun a few methods)")
    args = parser.parse_args()

    def write(all_rows: list[dict]) -> None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({
            "benchmark": "vision_ssl", "dataset": "fashion_mnist 60k/10k", "steps": args.steps,
            "batch_size": args.batch_size, "device": "cpu", "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "platform": platform.platform(), "rows": all_rows,
        }, indent=2))

    data = {"name": "fashion_mnist", "split": "train"}
    train_images, train_labels = labelled_images(data, "train")
    test_images, test_labels = labelled_images({**data, "split": "test"}, "test")
    evaluate = evaluator(train_images, train_labels, test_images, test_labels)

    rows: list[dict] = []
    kept: list[dict] = []
    if args.update and args.output.is_file():
        kept = [r for r in json.loads(args.output.read_text())["rows"]
                if r["method"] not in args.methods and r["train_seconds"] is not None]

    def record(name: str, metrics: dict[str, float], seconds: float | None, images_per_s: float | None) -> None:
        row = {"method": name, "knn": metrics["probe/knn_accuracy"], "linear": metrics["probe/linear_accuracy"],
               "train_seconds": seconds, "images_per_s": images_per_s}
        rows.append(row)
        write(rows[:2] + kept + rows[2:])  # after every method: a long run that stops keeps what it measured
        print(f"{name:<22} kNN {row['knn']:.4f}  linear {row['linear']:.4f}"
              + (f"  {images_per_s:7.0f} img/s ({seconds:.0f} s)" if seconds else ""), flush=True)

    record("raw pixels", evaluate(PixelEncoder()), None, None)
    torch.manual_seed(42)
    untrained = build_model(load_config(config_path("simclr")))
    record("untrained ResNet", evaluate(untrained), None, None)

    for method in args.methods:
        with tempfile.TemporaryDirectory() as tmp:
            overrides = [f"output_dir={tmp}", f"train.max_steps={args.steps}", f"train.batch_size={args.batch_size}",
                         "evaluators=[]", "export.enabled=false", "train.checkpoint_every=null",
                         "train.progress_bar=false", "train.log_with=[]", "train.eval_at_start=false"]
            if args.lr is not None:
                overrides.append(f"train.lr={args.lr}")
            overrides.extend(args.set)
            cfg = load_config(config_path(method), overrides)
            start = time.perf_counter()
            result = train(cfg)
            seconds = time.perf_counter() - start
        images = args.steps * args.batch_size * VIEWS_PER_SAMPLE.get(method, 2)
        record(method, evaluate(result.model), seconds, images / seconds)

    rows = rows[:2] + kept + rows[2:]
    untrained_knn, pixels_knn = rows[1]["knn"], rows[0]["knn"]
    print(f"\n{'method':<22}{'kNN':>8}{'linear':>9}{'img/s':>9}   beats pixels and untrained on kNN")
    for row in rows:
        beats = "" if row["train_seconds"] is None else ("yes" if row["knn"] > max(untrained_knn, pixels_knn) else "NO")
        speed = f"{row['images_per_s']:9.0f}" if row["images_per_s"] else f"{'':>9}"
        print(f"{row['method']:<22}{row['knn']:8.4f}{row['linear']:9.4f}{speed}   {beats}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
