"""Retrieval on the Cranfield collection in ../shared/data (BEIR layout, 1,400 aeronautics abstracts, 112 dev
queries), in one run: BM25 (bm25s, English stopwords), the packaged all-MiniLM-L6-v2 (mean pooling, cosine), and
the same MiniLM after in-domain self-supervised training on the corpus (no query or judgement of the collection
is trained on): each config of ``--configs`` (default: title/body pairs with a BM25 hard negative,
``configs/retrieval/title_body_cranfield_offline.yaml``; add ``configs/retrieval/inverse_cloze_cranfield_offline.yaml``
for the inverse cloze task). Prints nDCG@10, MRR@10, Recall@1/10/100 and MAP of each, with the ratio to the
starting model, and writes a JSON result. Nothing is asserted: it measures.

    .venv/bin/python benchmarks/retrieval.py
    .venv/bin/python benchmarks/retrieval.py --configs configs/retrieval/title_body_cranfield_offline.yaml \\
        configs/retrieval/inverse_cloze_cranfield_offline.yaml
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
from mmcontrast.data.beir_files import load_beir  # noqa: E402
from mmcontrast.retrieval import RetrievalEvaluator  # noqa: E402
from mmcontrast.retrieval.bm25 import bm25_run  # noqa: E402
from mmcontrast.training import train  # noqa: E402
from mmcontrast.training.build import build_model  # noqa: E402

CRANFIELD = REPO_ROOT.parent / "shared" / "data" / "retrieval_cranfield" / "beir"
DEFAULT_CONFIGS = [REPO_ROOT / "configs" / "retrieval" / "title_body_cranfield_offline.yaml"]
COLUMNS = ["ndcg@10", "mrr@10", "recall@1", "recall@10", "recall@100", "map"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CRANFIELD, help="BEIR folder")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--configs", nargs="+", type=Path, default=DEFAULT_CONFIGS,
                        help="training configs (their evaluators are replaced by this benchmark's)")
    parser.add_argument("--output", type=Path,
                        default=REPO_ROOT / "benchmarks" / "results" / "retrieval_cranfield_cpu.json")
    parser.add_argument("--eval-max-length", type=int, default=256,
                        help="token limit of every dense model at evaluation (training may truncate shorter)")
    args = parser.parse_args()

    data = load_beir(args.data, args.split, skip_empty=True, warn=False)
    evaluate = RetrievalEvaluator(data, k_values=[1, 10, 100], name="r")
    rows: list[dict] = []

    def record(name: str, metrics: dict[str, float], seconds: float | None) -> None:
        row = {"model": name, **{c: metrics[c] for c in COLUMNS}, "train_seconds": seconds}
        rows.append(row)
        print(f"{name:<34}" + "".join(f"  {c} {row[c]:.4f}" for c in COLUMNS)
              + (f"  ({seconds:.0f} s training)" if seconds else ""), flush=True)

    def dense(model) -> dict[str, float]:
        model.encoder.max_length = args.eval_max_length  # the same passage length for every dense model
        return {k.split("/", 1)[1]: v for k, v in evaluate(model).items()}

    bm25 = bm25_run(args.data, args.split, skip_empty=True)
    record("BM25 (bm25s, en stopwords)", bm25.metrics, None)
    start_cfg = load_config(args.configs[0])
    record("all-MiniLM-L6-v2 (packaged)", dense(build_model(start_cfg)), None)
    for config in args.configs:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(config, [f"output_dir={tmp}", "evaluators=[]", "export.enabled=false",
                                       "train.progress_bar=false", "train.log_with=[]", "train.resume=false",
                                       "train.checkpoint_every=null"])
            start = time.perf_counter()
            result = train(cfg)
            seconds = time.perf_counter() - start
        record(f"MiniLM + {config.stem}", dense(result.model), seconds)

    base = rows[1]
    print(f"\n{'model':<34}" + "".join(f"{c:>11}" for c in COLUMNS) + "   nDCG@10 vs MiniLM")
    for row in rows:
        print(f"{row['model']:<34}" + "".join(f"{row[c]:11.4f}" for c in COLUMNS)
              + f"   {row['ndcg@10'] / base['ndcg@10']:.3f}x")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "retrieval", "data": f"retrieval_cranfield ({args.split}: {len(data.evaluated()[0])} queries, "
                                          f"{len(data.passage_ids)} passages)",
        "configs": [str(c.relative_to(REPO_ROOT)) if c.is_relative_to(REPO_ROOT) else str(c) for c in args.configs],
        "eval_max_length": args.eval_max_length, "device": "cpu", "cpu_count": os.cpu_count(), "torch": torch.__version__, "platform": platform.platform(),
        "rows": rows,
    }, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
