"""Does CLIP learn on CPU? A short run of ``configs/image_text/offline/clip.yaml`` (or ``--config``): Fashion-MNIST
with templated captions ("a photo of the sneaker."), a small ConvNeXt image tower built from a config and the
packaged all-MiniLM-L6-v2 text tower (locked by the config; ``--train-text`` fine-tunes it too), symmetric
InfoNCE with a learned logit scale.

Measures, before and after training, zero-shot accuracy on the full Fashion-MNIST test split (10,000 images, the
config's prompt ensemble) beside chance (10 classes: 0.10), and image -> text / text -> image Recall@K on the
first 1,000 test images with their templated captions; plus the training time (first to last optimizer step)
and the whole run's time. Prints a table and writes ``benchmarks/results/image_text_cpu.json``. Nothing is
asserted: it measures.

    .venv/bin/python benchmarks/image_text.py                       # 300 steps of 128 pairs
    .venv/bin/python benchmarks/image_text.py --steps 100 --train-text --lr 2e-4
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
from mmcontrast.training import train  # noqa: E402

METRICS = {
    "zero-shot accuracy (10k test)": "zero_shot/accuracy",
    "zero-shot top-5 accuracy": "zero_shot/top5_accuracy",
    "chance": "zero_shot/chance",
    "image->text R@1 (1k test)": "retrieval/image_to_text/R@1",
    "image->text R@5": "retrieval/image_to_text/R@5",
    "text->image R@1": "retrieval/text_to_image/R@1",
    "text->image R@10": "retrieval/text_to_image/R@10",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "image_text" / "offline" / "clip.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=None, help="override the config's lr")
    parser.add_argument("--train-text", action="store_true", help="fine-tune the text backbone too")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "image_text_cpu.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    step_times: list[float] = []
    from torch.optim.optimizer import register_optimizer_step_post_hook

    register_optimizer_step_post_hook(lambda *_: step_times.append(time.perf_counter()))
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"output_dir={tmp}/run", f"train.max_steps={args.steps}", f"train.batch_size={args.batch_size}",
                     "train.checkpoint_every=null", "train.progress_bar=false", "export.enabled=false"]
        if args.lr is not None:
            overrides.append(f"train.lr={args.lr}")
        if args.train_text:
            overrides.append("encoder.lock_text=false")
        cfg = load_config(args.config, overrides)
        start = time.perf_counter()
        result = train(cfg)
        total = time.perf_counter() - start
    train_seconds = step_times[-1] - step_times[0] if len(step_times) > 1 else float("nan")
    per_step = train_seconds / max(1, len(step_times) - 1)

    print(f"\n{'metric':<32}{'untrained':>11}{'trained':>11}")
    rows = {}
    for label, key in METRICS.items():
        before, after = result.initial_metrics.get(key), result.final_metrics.get(key)
        if after is None:
            continue
        rows[key] = {"untrained": before, "trained": after}
        print(f"{label:<32}{before if before is not None else float('nan'):>11.4f}{after:>11.4f}")
    print(f"\n{args.steps} steps x {args.batch_size} pairs: training {train_seconds:.0f} s ({per_step:.2f} s/step), "
          f"whole run {total:.0f} s (model loading, 2 evaluations, training)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    import transformers

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "image_text",
        "config": str(args.config.relative_to(REPO_ROOT)) if args.config.is_relative_to(REPO_ROOT) else str(args.config),
        "steps": args.steps, "batch_size": args.batch_size, "lr": cfg.train.lr,
        "text_tower": "fine-tuned" if args.train_text else "locked (projection trained)",
        "metrics": rows,
        "zero_shot_accuracy": result.final_metrics["zero_shot/accuracy"],
        "chance": result.final_metrics["zero_shot/chance"],
        "image_to_text_recall_at_1": result.final_metrics.get("retrieval/image_to_text/R@1"),
        "train_seconds": train_seconds, "seconds_per_step": per_step, "total_seconds": total,
        "device": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average_1min_at_end": load,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
