"""Unsupervised SimCSE learning check: the packaged all-MiniLM-L6-v2 trained for 120 steps at batch 64 on the
Wikipedia sentences in ../shared/data (configs/simcse_unsup_offline.yaml), STS-B dev Spearman of [CLS]
embeddings before and after. Prints the table and writes a JSON result; nothing is asserted.

    python benchmarks/simcse_unsup_learning.py [--steps 120] [--output benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.chdir(ROOT)  # the config's data paths are relative to the repository root

    from mmcontrast.config import load_config
    from mmcontrast.training import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("configs/simcse_unsup_offline.yaml", [
            f"output_dir={tmp}", f"train.max_steps={args.steps}", "train.log_with=[]", "export.enabled=false",
        ])
        start = time.perf_counter()
        result = train(cfg)
        seconds = time.perf_counter() - start
    before, after = result.initial_metrics["sts-dev/spearman"], result.final_metrics["sts-dev/spearman"]
    print(f"\n{'model':<40}{'STS-B dev Spearman':>20}")
    print(f"{'all-MiniLM-L6-v2 [CLS], untrained here':<40}{before:>20.4f}")
    print(f"{f'+ unsup SimCSE, {args.steps} steps x 64':<40}{after:>20.4f}")
    print(f"gain {after - before:+.4f} in {seconds:.0f} s (training and both evaluations)")
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "simcse_unsup_learning.json").write_text(json.dumps({
        "benchmark": "simcse_unsup_learning", "steps": args.steps, "batch_size": 64, "device": "cpu",
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "spearman_before": before,
        "spearman_after": after, "gain": after - before, "seconds": seconds,
    }, indent=2))


if __name__ == "__main__":
    main()
