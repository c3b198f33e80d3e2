"""Forward + backward time of the InfoNCE / NT-Xent loss kernels: mmcontrast vs pytorch-metric-learning's
``NTXentLoss`` (and lightly's ``NTXentLoss`` when it imports here), on the same random embeddings.

Two settings, each at several batch sizes B (default 128, 256, 512 and the target 4096) with D = 256,
temperature 0.07, cosine similarity (every implementation normalises):

- ``nt_xent`` (SimCLR): 2B embeddings, each contrasted with the other 2B - 1. mmcontrast: ``NTXent`` on
  ``EmbeddingBatch(q, p)``; pytorch-metric-learning: ``NTXentLoss()(cat(q, p), cat(arange B, arange B))``;
  lightly: ``NTXentLoss()(q, p)``.
- ``info_nce`` (SimCSE, CLIP one direction): B queries against the B positives. mmcontrast: ``InfoNCE`` on
  ``EmbeddingBatch(q, p)``; pytorch-metric-learning: ``NTXentLoss()(q, arange B, ref_emb=p,
  ref_labels=arange B)``.

``mmcontrast-unfused`` is mmcontrast with its fused float32 kernel switched off (the plain autograd
composition): it shows what ``objectives/info_nce_kernel.py`` gains. mmcontrast uses that kernel from 2^20
logits (B x M) on; below it both rows run the same code.

pytorch-metric-learning's ``NTXentLoss`` is pair-based: it builds a (positive pairs x negative pairs) matrix,
O(B^3) memory (for NT-Xent at B = 4096: 8,192 x 67 million entries, about 4.5 TiB; see ``pml_bytes``). It is run only where that matrix fits in ``--pml-max-gib``; elsewhere the table says why.

Each (setting, B): seeded leaf embeddings, then ``loss = f(q, p); loss.backward()`` round-robin over the
implementations (so a disturbance from other work on the machine hits all of them): one warm-up call each, then
up to ``--repeats`` timed calls each (an implementation stops once its calls exceed ``--budget-s``); the median
is reported.
Nothing is asserted. Prints a table with ratios (implementation time / mmcontrast time: above 1 means mmcontrast
is faster) and writes a JSON result and a PNG bar chart next to it.

    .venv/bin/python benchmarks/loss_kernels.py
    .venv/bin/python benchmarks/loss_kernels.py --batch-sizes 4096 --device cuda
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

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from charts import bar_chart  # noqa: E402
from environment import STACK, package_versions  # noqa: E402

from mmcontrast.batch import EmbeddingBatch  # noqa: E402
from mmcontrast.objectives import InfoNCE, NTXent  # noqa: E402
from mmcontrast.objectives import info_nce_kernel  # noqa: E402

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pml_bytes(setting: str, b: int) -> float:
    """Bytes pytorch-metric-learning's NTXentLoss needs for its (positive pairs x negative pairs) float matrix
    and the boolean and product tensors built beside it (about 9 bytes per entry)."""
    n = 2 * b if setting == "nt_xent" else b
    positives = n
    negatives = n * (n - 2) if setting == "nt_xent" else n * (n - 1)
    return 9.0 * positives * negatives


def implementations(setting: str, temperature: float) -> dict[str, Loss | str]:
    """name -> loss of (q, p), or a string saying why it is not available."""
    impls: dict[str, Loss | str] = {}
    ours = NTXent(temperature=temperature) if setting == "nt_xent" else InfoNCE(temperature=temperature)

    def mm(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return ours(EmbeddingBatch(q, p))

    def mm_unfused(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        original = info_nce_kernel.can_fuse
        module = sys.modules["mmcontrast.objectives.info_nce"]  # the module, not the function of that name

        module.can_fuse = lambda *_: False  # type: ignore[assignment]
        try:
            return ours(EmbeddingBatch(q, p))
        finally:
            module.can_fuse = original  # type: ignore[assignment]

    impls["mmcontrast"] = mm
    impls["mmcontrast-unfused"] = mm_unfused
    try:
        from pytorch_metric_learning.losses import NTXentLoss as PMLNTXent

        pml = PMLNTXent(temperature=temperature)
        if setting == "nt_xent":
            impls["pytorch-metric-learning"] = lambda q, p: pml(
                torch.cat([q, p]), torch.arange(len(q), device=q.device).repeat(2))
        else:  # ref_labels must not be the labels object itself, or PML drops the diagonal (the positives)
            impls["pytorch-metric-learning"] = lambda q, p: pml(
                q, torch.arange(len(q), device=q.device), ref_emb=p, ref_labels=torch.arange(len(q), device=q.device))
    except ImportError as err:
        impls["pytorch-metric-learning"] = f"not installed ({err})"
    if setting == "nt_xent":
        try:
            from lightly.loss import NTXentLoss as LightlyNTXent

            lightly = LightlyNTXent(temperature=temperature)
            impls["lightly"] = lambda q, p: lightly(q, p)
        except Exception as err:  # lightly imports torchvision and more at package import
            impls["lightly"] = f"does not import here ({type(err).__name__}: {err})"
    return impls


def measure(impls: dict[str, Loss], b: int, d: int, device: str, repeats: int,
            budget_s: float) -> dict[str, dict[str, Any]]:
    """Round-robin over the implementations (a disturbance from other work hits all of them): a warm-up call each,
    then up to ``repeats`` timed calls each; an implementation stops repeating once its timed calls exceed
    ``budget_s``. -> name -> {median_s, times_s, loss}."""
    gen = torch.Generator().manual_seed(b)
    q = torch.randn(b, d, generator=gen).to(device).requires_grad_()
    p = torch.randn(b, d, generator=gen).to(device).requires_grad_()
    out: dict[str, dict[str, Any]] = {name: {"times_s": [], "loss": float("nan")} for name in impls}
    for i in range(repeats + 1):
        for name, loss_fn in impls.items():
            record = out[name]
            if i > 1 and sum(record["times_s"]) > budget_s:
                continue
            q.grad = p.grad = None
            sync(device)
            t0 = time.perf_counter()
            loss = loss_fn(q, p)
            loss.backward()
            sync(device)
            elapsed = time.perf_counter() - t0
            record["loss"] = float(loss.detach())
            if i > 0:  # the first call warms up
                record["times_s"].append(elapsed)
    for record in out.values():
        record["median_s"] = statistics.median(record["times_s"])
    return out


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256, 512, 4096])
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=0.07)
    ap.add_argument("--settings", nargs="+", choices=("nt_xent", "info_nce"), default=["nt_xent", "info_nce"])
    ap.add_argument("--repeats", type=int, default=5, help="timed calls after the warm-up (default 5)")
    ap.add_argument("--budget-s", type=float, default=20.0, help="stop repeating after this long (default 20)")
    ap.add_argument("--pml-max-gib", type=float, default=2.0,
                    help="run pytorch-metric-learning only where its pair matrix needs at most this (default 2)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for every implementation (default 1: on shared CPUs a second OpenMP "
                         "thread waiting for a busy core costs milliseconds per small kernel)")
    ap.add_argument("--output", type=Path, default=None,
                    help="JSON result (default benchmarks/results/loss_kernels_<device>.json); PNG next to it")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    output = args.output or REPO_ROOT / "benchmarks" / "results" / f"loss_kernels_{args.device}.json"
    load_start = os.getloadavg()[0]
    print(f"{device_name(args.device)}; torch {torch.__version__}, {args.threads} threads; D={args.dim}, "
          f"temperature {args.temperature}; 1-min load average {load_start:.2f}", flush=True)

    rows: list[dict[str, Any]] = []
    for setting in args.settings:
        impls = implementations(setting, args.temperature)
        for b in args.batch_sizes:
            runnable: dict[str, Loss] = {}
            skipped: dict[str, str] = {}
            for name, fn in impls.items():
                if isinstance(fn, str):
                    skipped[name] = fn
                elif name == "pytorch-metric-learning" and pml_bytes(setting, b) > args.pml_max_gib * 2**30:
                    skipped[name] = (f"its (positive pairs x negative pairs) matrix needs about "
                                     f"{pml_bytes(setting, b) / 2**30:,.0f} GiB (> --pml-max-gib {args.pml_max_gib})")
                else:
                    runnable[name] = fn
            measured = measure(runnable, b, args.dim, args.device, args.repeats, args.budget_s)
            for name in impls:
                row: dict[str, Any] = {"setting": setting, "batch": b, "implementation": name}
                row.update(measured[name] if name in measured else {"skipped": skipped[name]})
                rows.append(row)
                status = row.get("skipped") or f"{row['median_s'] * 1e3:9.1f} ms  loss {row['loss']:.6f}"
                print(f"  {setting:8s} B={b:5d} {name:24s} {status}", flush=True)
    for row in rows:  # ratios against mmcontrast at the same setting and batch
        ours = next((r for r in rows if r["setting"] == row["setting"] and r["batch"] == row["batch"]
                     and r["implementation"] == "mmcontrast" and "median_s" in r), None)
        if ours is not None and "median_s" in row:
            row["time_vs_mmcontrast"] = row["median_s"] / ours["median_s"]
            row["loss_diff_vs_mmcontrast"] = abs(row["loss"] - ours["loss"])

    print("\nsetting  |     B | implementation           |    median ms | time / mmcontrast | |loss - mmcontrast|")
    for row in rows:
        if "median_s" in row:
            print(f"{row['setting']:8s} | {row['batch']:5d} | {row['implementation']:24s} | "
                  f"{row['median_s'] * 1e3:12.1f} | {row['time_vs_mmcontrast']:17.2f}x | "
                  f"{row['loss_diff_vs_mmcontrast']:.2e}")
        else:
            print(f"{row['setting']:8s} | {row['batch']:5d} | {row['implementation']:24s} | skipped: {row['skipped']}")
    load_end = os.getloadavg()[0]
    print(f"1-min load average at the end: {load_end:.2f} (above {args.threads} means the CPUs were shared)")

    result = {
        "benchmark": "loss_kernels", "device": device_name(args.device), "torch": torch.__version__,
        "threads": args.threads, "dim": args.dim, "temperature": args.temperature,
        "load_average_start": load_start, "load_average_end": load_end, "rows": rows,
        "versions": package_versions(STACK + ("pytorch-metric-learning", "lightly")),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    bars = [(f"{r['setting']} B={r['batch']} {r['implementation']}", r["median_s"] * 1e3,
             f"{r['median_s'] * 1e3:,.1f} ms" + (f"  ({r['time_vs_mmcontrast']:.2f}x mmcontrast)"
                                                 if r["implementation"] != "mmcontrast" else ""))
            for r in rows if "median_s" in r]
    bar_chart(bars, "Loss kernel forward + backward time (lower is better; log scale)",
              f"{device_name(args.device)}, {args.threads} threads, D={args.dim}; pytorch-metric-learning is "
              "skipped where its O(B^3) pair matrix does not fit", output.with_suffix(".png"),
              colour_keys=[label.split(" ", 2)[2] for label, _, _ in bars], log_scale=True)
    print(f"wrote {output} and {output.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
