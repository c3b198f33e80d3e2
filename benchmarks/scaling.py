"""Data-parallel scaling on CPU: the same unsupervised SimCSE job in 1 process and in 2 processes (gloo, through
``accelerate launch --multi_gpu``), throughput per process and in total.

The job: ``configs/simcse_unsup_offline.yaml`` (packaged all-MiniLM-L6-v2, Wikipedia sentences, max length 32,
InfoNCE at temperature 0.05 with in-batch negatives gathered across processes WITH gradient), ``--batch`` sentences
per process (weak scaling: 2 processes train on twice the global batch, and each anchor sees twice the
candidates), float32, no evaluation or export. Configurations:

- ``1 process x T threads``: the baseline;
- ``2 processes x T threads``: DDP over gloo; per-process steps/s and total samples/s;
- ``1 process x 2T threads``: the same cores as the two processes in one process (what data parallelism on one
  machine competes with).

Every rank timestamps its optimizer steps (torch's global optimizer step post-hook); the first ``--warmup`` steps
are excluded. Per process: timed steps / window; total samples/s: sum over processes of batch x steps/s (steps are
synchronised by DDP's all-reduce, so the processes' rates are equal up to the window ends). Scaling efficiency is
total samples/s of the 2 processes / (2 x the 1-process baseline's). On a machine with fewer free cores than
threads in use the efficiency measures the contention, not DDP: the load average is recorded with each run.

Prints a table, writes a JSON result and a PNG bar chart. Nothing is asserted.

    .venv/bin/python benchmarks/scaling.py                   # batch 32 per process, 2 warmup + 6 timed steps
    .venv/bin/python benchmarks/scaling.py --batch 64 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from charts import bar_chart  # noqa: E402
from text_train_throughput import device_name  # noqa: E402
from environment import package_versions  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = "configs/simcse_unsup_offline.yaml"
DATA_PATH = "../shared/data/wiki/wiki1m_for_simcse.first11914.txt"


def worker_main(args: argparse.Namespace) -> None:
    """One rank: train with a step clock, write ``<out>/rank<r>.json`` (the rank from the launcher's environment:
    ``train`` ends by destroying the process group)."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from mmcontrast.config import load_config
    from mmcontrast.training.train import train

    torch.set_num_threads(args.threads)
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))  # the process
    ticks: list[float] = []
    handle = register_optimizer_step_post_hook(lambda *a: ticks.append(time.perf_counter()))
    overrides = [f"output_dir={args.out}/run", f"data.train.path={DATA_PATH}", f"train.batch_size={args.batch}",
                 f"train.max_steps={args.warmup + args.steps}", "evaluators=[]", "export.enabled=false",
                 "train.progress_bar=false", "train.log_with=[]", "train.checkpoint_every=null",
                 "train.eval_at_start=false", "train.resume=false"]
    train(load_config(CONFIG_PATH, overrides))
    handle.remove()
    timed = ticks[args.warmup - 1 :]
    seconds = timed[-1] - timed[0]
    result = {"rank": rank, "world_size": world_size, "threads": torch.get_num_threads(),
              "timed_seconds": seconds, "steps_per_s": args.steps / seconds,
              "step_seconds": [round(b - a, 4) for a, b in zip(timed[:-1], timed[1:])],
              "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    Path(args.out, f"rank{rank}.json").write_text(json.dumps(result))


def run_configuration(processes: int, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="scaling_") as out:
        worker = [str(Path(__file__).resolve()), "--worker", "--out", out, "--threads", str(threads),
                  "--batch", str(args.batch), "--warmup", str(args.warmup), "--steps", str(args.steps)]
        if processes == 1:
            cmd = [sys.executable, *worker]
        else:
            cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                   str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", str(args.port), *worker]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        ranks = sorted((json.loads(p.read_text()) for p in Path(out).glob("rank*.json")), key=lambda r: r["rank"])
        if proc.returncode != 0 or len(ranks) != processes:
            return {"processes": processes, "threads": threads, "error": (proc.stdout + proc.stderr)[-3000:]}
    per_process = [r["steps_per_s"] for r in ranks]
    return {"processes": processes, "threads_per_process": threads, "batch_per_process": args.batch,
            "global_batch": args.batch * processes, "steps_per_s_per_process": per_process,
            "samples_per_s_total": sum(args.batch * v for v in per_process),
            "samples_per_s_per_process": [args.batch * v for v in per_process],
            "wall_seconds_with_startup": round(wall, 1), "ranks": ranks}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--batch", type=int, default=32, help="sentences per process (default 32)")
    p.add_argument("--steps", type=int, default=6, help="timed steps (default 6)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before them, >= 1 (default 2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--port", type=int, default=29533)
    p.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "scaling_cpu.json")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    if args.warmup < 1 or args.steps < 1:
        p.error("--warmup and --steps must be >= 1")
    device = device_name("cpu")
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"{device}; {os.cpu_count()} CPUs; batch {args.batch} per process; load average {load_before}", flush=True)
    plan = [(1, args.threads), (2, args.threads), (1, 2 * args.threads)]
    runs = []
    for processes, threads in plan:
        print(f"  {processes} process(es) x {threads} thread(s) ...", end=" ", flush=True)
        r = run_configuration(processes, threads, args)
        runs.append(r)
        print("FAILED" if "error" in r else f"{r['samples_per_s_total']:.1f} samples/s in total "
              f"({r['wall_seconds_with_startup']:.0f} s with startup; load {r['ranks'][0]['load_average_at_end']})",
              flush=True)
        if "error" in r:
            print(r["error"], file=sys.stderr)
    base = runs[0].get("samples_per_s_total")
    header = ["configuration", "global batch", "steps/s per process", "samples/s per process", "samples/s total",
              "total vs 1 process"]
    rows = [header]
    for r in runs:
        name = f"{r['processes']} process(es) x {r.get('threads_per_process', r.get('threads'))} thread(s)"
        if "error" in r:
            rows.append([name, "failed", "", "", "", ""])
            continue
        rows.append([name, str(r["global_batch"]), ", ".join(f"{v:.3f}" for v in r["steps_per_s_per_process"]),
                     ", ".join(f"{v:.1f}" for v in r["samples_per_s_per_process"]), f"{r['samples_per_s_total']:.1f}",
                     f"{r['samples_per_s_total'] / base:.2f}x" if base else ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = "\n".join(" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                      for row in rows)
    two = runs[1]
    efficiency = two["samples_per_s_total"] / (2 * base) if base and "error" not in two else None
    print()
    print(table)
    if efficiency is not None:
        print(f"\nscaling efficiency, 2 processes: {efficiency:.2f} (total samples/s / (2 x 1 process))")
    report = {"benchmark": "scaling", "description": "1 vs 2 gloo processes on CPU, unsupervised SimCSE (MiniLM)",
              "device_name": device, "platform": platform.platform(), "cpu_count": os.cpu_count(),
              "versions": package_versions(), "settings": {"batch_per_process": args.batch, "warmup": args.warmup,
                                                   "steps": args.steps, "threads": args.threads},
              "load_average_before": load_before, "runs": runs, "scaling_efficiency_2_processes": efficiency,
              "table": table}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    bars = [(f"{r['processes']} proc x {r['threads_per_process']} thr", r["samples_per_s_total"],
             f"{r['samples_per_s_total']:.1f} samples/s total"
             + (f" ({r['samples_per_s_total'] / base:.2f}x)" if base else ""))
            for r in runs if "error" not in r]
    bar_chart(bars, "Data-parallel scaling on CPU (gloo), total samples/s (higher is better)",
              f"{device} | {os.cpu_count()} CPUs | MiniLM-L6, batch {args.batch}/process, len 32 | load {load_before}",
              args.output.with_suffix(".png"))
    print(f"\nwrote {args.output} and {args.output.with_suffix('.png')}")
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
