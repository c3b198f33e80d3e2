"""Every vision self-supervised method of mmcontrast on Fashion-MNIST, with the same small HF ResNet and the same
step budget, in one run; beside the untrained encoder and raw pixels.

Each method is its offline config ``configs/vision/offline/<method>.yaml`` (Fashion-MNIST 60k train, a ResNet
built from a config: hidden sizes 32-64-128-256, one basic block each, input resized to 32x32), trained for
``--steps`` optimizer steps at ``--batch-size`` with the same AdamW schedule, then evaluated on frozen features:
weighted kNN (k=200, T=0.1, cosine; Wu et al. 2018) and a linear probe (L-BFGS on standardised features),
60k train / 10k test. Raw pixels and the untrained encoder (same seed, same architecture) go through the same
evaluator. Prints a table (kNN, linear probe, images/s of training = steps x batch x views / training seconds)
and writes a JSON result. Nothing is asserted: it measures.

    .venv/bin/python benchmarks/vision_ssl.py                      # all methods, 600 steps each
    .venv/bin/python benchmarks/vision_ssl.py --steps 100 --methods simclr byol
    .venv/bin/python benchmarks/vision_ssl.py --methods swav --set train.lr=5e-4 --update   # try a setting
    .venv/bin/python benchmarks/vision_ssl.py --methods pirl swav --seeds 42 43 44   # mean and min over seeds
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from environment import package_versions  # noqa: E402
from mmcontrast.config import load_config  # noqa: E402
from mmcontrast.evaluation.baselines import PixelEncoder  # noqa: E402
from mmcontrast.evaluation.inputs import labelled_split  # noqa: E402
from mmcontrast.evaluation.frozen import FrozenFeaturesEvaluator  # noqa: E402
from mmcontrast.evaluation.probe import ProbeSettings  # noqa: E402
from mmcontrast.training import train  # noqa: E402
from mmcontrast.training.build import build_model  # noqa: E402

METHODS = ["simclr", "moco_v2", "moco_v3", "byol", "simsiam", "barlow_twins", "vicreg", "swav", "dino", "instdisc",
           "pirl", "supcon"]
VIEWS_PER_SAMPLE = {"swav": 6, "dino": 6}  # 2 global + 4 local crops; every other method encodes 2 views


def config_path(method: str) -> Path:
    return REPO_ROOT / "configs" / "vision" / "offline" / f"{method}.yaml"


def evaluator(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
              test_labels: torch.Tensor) -> FrozenFeaturesEvaluator:
    return FrozenFeaturesEvaluator(train_images, train_labels, test_images, test_labels,
                                   probe=ProbeSettings(k=200, temperature=0.1), name="probe", batch_size=1024)


def seed_row(name: str, per_seed: list[dict[str, float]], seeds: list[int], seconds: list[float] | None,
             images: int | None) -> dict:
    """One table row over ``seeds``: mean and min kNN, mean linear probe, and the per-seed values."""
    knn = [m["probe/knn_accuracy"] for m in per_seed]
    linear = [m["probe/linear_accuracy"] for m in per_seed]
    mean_seconds = None if seconds is None else sum(seconds) / len(seconds)
    return {"method": name, "knn": sum(knn) / len(knn), "knn_min": min(knn), "linear": sum(linear) / len(linear),
            "seeds": seeds, "knn_per_seed": knn, "linear_per_seed": linear, "train_seconds": mean_seconds,
            "images_per_s": None if mean_seconds is None or images is None else images / mean_seconds}


def beats_baselines(row: dict, pixels: dict, untrained: dict) -> bool:
    """True when the method's kNN is above raw pixels and above the untrained encoder at EVERY seed it ran (the
    untrained encoder of the same seed where it was measured; its mean otherwise)."""
    untrained_by_seed = dict(zip(untrained.get("seeds", []), untrained.get("knn_per_seed", [])))
    per_seed = dict(zip(row.get("seeds", [None]), row.get("knn_per_seed", [row["knn"]])))
    return all(knn > max(pixels["knn"], untrained_by_seed.get(seed, untrained["knn"])) for seed, knn in per_seed.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42],
                        help="train (and build the untrained encoder) once per seed; the table shows the mean and "
                             "the min kNN, and a method passes only if it beats both baselines at every seed")
    parser.add_argument("--lr", type=float, default=None, help="override every config's lr")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config overrides for every method run (e.g. train.lr=5e-4 'head.hidden_dims=[2048]')")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "vision_ssl_cpu.json")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of methods not run now from an existing --output (rerun a few methods)")
    args = parser.parse_args()
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    if any(item.split("=", 1)[0].strip() == "seed" for item in args.set):
        parser.error("set the seed with --seeds, not --set seed=...")

    def write(all_rows: list[dict]) -> None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({
            "benchmark": "vision_ssl", "dataset": "fashion_mnist 60k/10k", "steps": args.steps,
            "batch_size": args.batch_size, "seeds": args.seeds, "device": "cpu", "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "versions": package_versions(), "platform": platform.platform(),
            "rows": all_rows,
        }, indent=2))

    data = {"name": "fashion_mnist", "split": "train"}
    train_images, train_labels = labelled_split(data, "train")
    test_images, test_labels = labelled_split({**data, "split": "test"}, "test")
    evaluate = evaluator(train_images, train_labels, test_images, test_labels)

    rows: list[dict] = []
    kept: list[dict] = []
    if args.update and args.output.is_file():
        kept = [r for r in json.loads(args.output.read_text())["rows"]
                if r["method"] not in args.methods and r["train_seconds"] is not None]

    def record(row: dict) -> None:
        rows.append(row)
        write(rows[:2] + kept + rows[2:])  # after every method: a long run that stops keeps what it measured
        seeds = "" if len(row.get("seeds", [])) < 2 else f"  (min {row['knn_min']:.4f} over seeds {row['seeds']})"
        speed = f"  {row['images_per_s']:7.0f} img/s ({row['train_seconds']:.0f} s)" if row["train_seconds"] else ""
        print(f"{row['method']:<22} kNN {row['knn']:.4f}  linear {row['linear']:.4f}{speed}{seeds}", flush=True)

    record(seed_row("raw pixels", [evaluate(PixelEncoder())], [], None, None)  # no seed: one value
           | {"knn_per_seed": [], "linear_per_seed": []})
    untrained_metrics = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        untrained_metrics.append(evaluate(build_model(load_config(config_path("simclr")))))
    record(seed_row("untrained ResNet", untrained_metrics, args.seeds, None, None))

    for method in args.methods:
        per_seed, seconds = [], []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                overrides = [f"output_dir={tmp}", f"seed={seed}", f"train.max_steps={args.steps}",
                             f"train.batch_size={args.batch_size}", "evaluators=[]", "export.enabled=false",
                             "train.checkpoint_every=null", "train.progress_bar=false", "train.log_with=[]",
                             "train.eval_at_start=false"]
                if args.lr is not None:
                    overrides.append(f"train.lr={args.lr}")
                overrides.extend(args.set)
                cfg = load_config(config_path(method), overrides)
                start = time.perf_counter()
                result = train(cfg)
                seconds.append(time.perf_counter() - start)
            per_seed.append(evaluate(result.model))
            if len(args.seeds) > 1:
                print(f"  {method} seed {seed}: kNN {per_seed[-1]['probe/knn_accuracy']:.4f}", flush=True)
        images = args.steps * args.batch_size * VIEWS_PER_SAMPLE.get(method, 2)
        record(seed_row(method, per_seed, args.seeds, seconds, images))

    rows = rows[:2] + kept + rows[2:]
    pixels, untrained = rows[0], rows[1]
    print(f"\n{'method':<22}{'kNN':>8}{'min kNN':>9}{'linear':>9}{'img/s':>9}   beats pixels and untrained on kNN"
          f" (every seed of {args.seeds})")
    for row in rows:
        beats = "" if row["train_seconds"] is None else ("yes" if beats_baselines(row, pixels, untrained) else "NO")
        speed = f"{row['images_per_s']:9.0f}" if row["images_per_s"] else f"{'':>9}"
        low = f"{row['knn_min']:9.4f}" if row.get("seeds") else f"{'':>9}"
        print(f"{row['method']:<22}{row['knn']:8.4f}{low}{row['linear']:9.4f}{speed}   {beats}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
