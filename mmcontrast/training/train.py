"""``train(cfg)``: one readable training function over Accelerate."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from ..config import Config, TrainConfig, config_to_yaml
from ..data import build_dataset
from ..data.loader import IndexedRows, training_loader
from ..encoders import ContrastiveModel
from ..errors import ConfigError, RunError
from ..evaluation.base import run_evaluators
from ..export import export_final
from ..export.checks import export_problems
from ..secrets import redact_secrets
from .accelerator import build_accelerator
from .build import build_evaluators, build_learner, build_view
from .checkpoint import load_newest_loadable, save_checkpoint
from .finite_guard import FiniteGuard
from .fingerprint import config_tree, fingerprint
from .launcher_watch import watch_launcher
from .learner import Learner, flatten_views
from .optim import build_optimizer, build_scheduler
from .run_folder import FINAL, check_resumable, check_writable, clear_run, plan_start, trim_metrics
from .run_lock import RunLock, is_lock_holder_rank
from .step import train_step


@dataclass
class TrainResult:
    model: ContrastiveModel
    steps: int
    initial_metrics: dict[str, float] = field(default_factory=dict)
    final_metrics: dict[str, float] = field(default_factory=dict)
    export_path: Path | None = None
    learner: Learner | None = None  # the online model with its objective, predictor and target (unwrapped)


def train(cfg: Config, overwrite: bool = False, allow_config_change: bool = False) -> TrainResult:
    """Train ``cfg``'s model with its view, negatives and objective; evaluate; checkpoint; export.

    Works in one process or under ``accelerate launch`` with N processes: each process draws its own
    batches, negatives are gathered across processes inside the objective, and DDP averages gradients.

    The output folder is locked for the run (``RunLock``) and holds one run: a used folder is resumed when its
    checkpoint's config matches (``allow_config_change`` takes a changed one anyway) and replaced only with
    ``overwrite``. The run stops with ``NonFiniteError`` (nothing saved after the last good checkpoint) when the
    loss or the gradients stop being finite, and always leaves a checkpoint of its last step.
    """
    output_dir = Path(cfg.output_dir)
    if is_lock_holder_rank():
        check_writable(output_dir)
    watch_launcher()
    with RunLock(output_dir, command="train"):
        return _train(cfg, output_dir, overwrite, allow_config_change)


def _train(cfg: Config, output_dir: Path, overwrite: bool, allow_config_change: bool) -> TrainResult:
    t = cfg.train
    tree = redact_secrets(config_tree(cfg))
    accelerator = build_accelerator(cfg, output_dir)
    plan = plan_start(output_dir, tree, t.max_steps, t.resume, overwrite, allow_config_change)  # refuse before building
    set_seed(cfg.seed)  # same initial weights on every process

    rows = IndexedRows(build_dataset(cfg.data.train))
    loader, batch_sampler = training_loader(rows, t.batch_size, cfg.data.shuffle, cfg.data.drop_last,
                                            cfg.data.num_workers, cfg.seed, cfg.data.batch_sampler)
    learner = build_learner(cfg, num_samples=len(rows))
    learner.objective.check_global_batch(t.batch_size * accelerator.num_processes)
    view = build_view(cfg, seed=cfg.seed + accelerator.process_index, device=accelerator.device)
    evaluators = build_evaluators(cfg) if accelerator.is_main_process else []
    if cfg.export.enabled:  # before step 1: a run must never be lost to an export that cannot work
        _check_exportable(learner.model)
    optimizer = build_optimizer(learner, t)
    if t.compile:
        compile_model(learner.model, t.compile_backend)

    learner, optimizer, loader = accelerator.prepare(learner, optimizer, loader)
    total_steps = _total_steps(t, len(loader))
    scheduler = build_scheduler(optimizer, t, total_steps)  # stepped by us once per optimizer step
    model: ContrastiveModel = accelerator.unwrap_model(learner).model
    generator = getattr(view, "generator", None)

    if accelerator.is_main_process:
        for notice in plan.notices:
            print(f"mmcontrast: {notice}", file=sys.stderr)
        if overwrite:
            clear_run(output_dir)
    accelerator.wait_for_everyone()
    step, initial_metrics, last_checkpoint = 0, {}, None
    if plan.candidates:
        step, initial_metrics, last_checkpoint = _resume(accelerator, plan.candidates, generator, scheduler, tree,
                                                         allow_config_change, total_steps)
    if accelerator.is_main_process:
        trim_metrics(output_dir, step)
        (output_dir / "config.yaml").write_text(config_to_yaml(cfg))
    accelerator.init_trackers(cfg.name, config=_flat(tree))
    if step >= total_steps and last_checkpoint is not None and (output_dir / FINAL).exists():
        accelerator.print(f"the run in {output_dir} is complete (step {step}) and exported to {output_dir / FINAL}: "
                          "nothing to do (raise train.max_steps to train on, or pass --overwrite to start over)")
        accelerator.end_training()
        return TrainResult(model, step, initial_metrics, {}, None, accelerator.unwrap_model(learner))
    if last_checkpoint is None and t.eval_at_start:
        initial_metrics = _evaluate(accelerator, model, evaluators, step)

    guard = FiniteGuard(accelerator.device, check_gradients=t.mixed_precision != "fp16")

    def check_finite() -> None:
        guard.raise_if_bad(accelerator, f"the last good checkpoint {last_checkpoint} is kept" if last_checkpoint
                           else "no checkpoint had been written yet")

    def checkpoint(at_step: int) -> Path:
        guard.observe_weights(learner, at_step)
        check_finite()
        state = {"epoch": epoch, "initial_metrics": initial_metrics, "config": tree, "fingerprint": fingerprint(tree)}
        return save_checkpoint(accelerator, output_dir, at_step, state, generator, t.keep_checkpoints, scheduler)

    progress = tqdm(total=total_steps, initial=step, disable=not (t.progress_bar and accelerator.is_main_process),
                    desc=cfg.name, dynamic_ncols=True)
    learner.train()
    epoch, skip = divmod(step * t.gradient_accumulation_steps, len(loader))
    while step < total_steps:
        loader.set_epoch(epoch)
        if hasattr(batch_sampler, "set_epoch"):  # Accelerate's shard wrapper does not forward it
            batch_sampler.set_epoch(epoch)
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        skip = 0
        for batch in batches:
            step_batch = flatten_views(model, view(batch)).to(accelerator.device)
            loss = train_step(accelerator, learner, optimizer, step_batch, t, guard, step + 1)
            if not accelerator.sync_gradients:
                continue
            if not optimizer.step_was_skipped:  # fp16: the loss scaler skips a step whose gradients overflowed
                scheduler.step()
            step += 1
            accelerator.unwrap_model(learner).after_optimizer_step(step, total_steps)
            progress.update(1)
            if step % t.log_every == 0 or step == total_steps:
                check_finite()
                _log_loss(accelerator, progress, scheduler, loss, step)
            if t.eval_every and step % t.eval_every == 0 and step < total_steps:
                check_finite()
                _evaluate(accelerator, model, evaluators, step)
            if (t.checkpoint_every and step % t.checkpoint_every == 0) or step == total_steps:
                last_checkpoint = checkpoint(step)  # the last step always: export and evaluate read it
            if step >= total_steps:
                break
        epoch += 1
    progress.close()
    check_finite()

    final_metrics = _evaluate(accelerator, model, evaluators, step)
    export_path = None
    if cfg.export.enabled and accelerator.is_main_process:
        export_path = _export(model, cfg, final_metrics, output_dir, initial_metrics, step, last_checkpoint)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(model, step, initial_metrics, final_metrics, export_path, accelerator.unwrap_model(learner))


def _total_steps(t: TrainConfig, batches_per_epoch: int) -> int:
    """``train.max_steps``, or ``train.epochs`` of optimizer steps (batches / gradient accumulation steps)."""
    steps_per_epoch = max(1, batches_per_epoch // t.gradient_accumulation_steps)
    return t.max_steps if t.max_steps is not None else math.ceil(t.epochs * steps_per_epoch)


def _resume(accelerator: Any, candidates: list[Path], generator: torch.Generator | None, scheduler: Any,
            tree: dict[str, Any], allow_config_change: bool, total_steps: int
            ) -> tuple[int, dict[str, float], Path]:
    """Load the newest loadable checkpoint of ``candidates`` -> (its step, its initial metrics, its path)."""
    last_checkpoint, state = load_newest_loadable(accelerator, candidates, generator, scheduler)
    if last_checkpoint != candidates[0]:  # fell back: its config was not checked yet
        check_resumable(last_checkpoint, state, tree, allow_config_change, what="resume")
    step = state["step"]
    if step > total_steps:
        raise RunError(f"checkpoint {last_checkpoint} is at step {step}, past this config's {total_steps} steps: "
                       "raise train.max_steps or train.epochs, or pass --overwrite to start over")
    accelerator.print(f"resumed from {last_checkpoint} at step {step}")
    return step, state.get("initial_metrics", {}), last_checkpoint


def _log_loss(accelerator: Any, progress: Any, scheduler: Any, loss: torch.Tensor, step: int) -> None:
    """The loss averaged over processes, and the learning rate: to the progress bar and the trackers."""
    mean_loss = accelerator.reduce(loss.detach().float(), reduction="mean").item()
    progress.set_postfix(loss=f"{mean_loss:.4f}")
    accelerator.log({"train/loss": mean_loss, "train/lr": scheduler.get_last_lr()[0]}, step=step)


def _check_exportable(model: torch.nn.Module) -> None:
    """ConfigError before step 1 when the export at the end of the run could not work."""
    problems = export_problems(model)
    if problems:
        raise ConfigError(f"this model cannot be exported: {'; '.join(problems)} (or set export.enabled=false)")


def _export(model: ContrastiveModel, cfg: Config, final_metrics: dict[str, float], output_dir: Path,
            initial_metrics: dict[str, float], step: int, last_checkpoint: Path | None) -> Path:
    """Export the trained model to ``output_dir / FINAL``; RunError naming the saved checkpoint on failure."""
    try:
        return export_final(model, cfg, final_metrics, output_dir / FINAL, initial_metrics, step)
    except (ValueError, OSError) as err:
        raise RunError(f"training finished and its checkpoint {last_checkpoint} is saved, but the export to "
                       f"{output_dir / FINAL} failed ({err}): fix the cause, then run mmcontrast export") from err


def _evaluate(accelerator: Any, model: ContrastiveModel, evaluators: list[Any], step: int) -> dict[str, float]:
    """Run every evaluator on the main process; log and print the metrics."""
    metrics: dict[str, float] = {}
    if accelerator.is_main_process and evaluators:
        metrics = run_evaluators(evaluators, model)
        accelerator.log({f"eval/{k}": v for k, v in metrics.items()}, step=step)
        accelerator.print(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    accelerator.wait_for_everyone()
    return metrics


def compile_model(model: torch.nn.Module, backend: str = "inductor") -> None:
    """``torch.compile`` the model (encoder + head) in place with ``backend`` (``nn.Module.compile``: parameter
    names, checkpoints and export are unchanged; the objective stays eager). Text batches vary in length: the
    second shape seen compiles a dynamic-shape graph, after which lengths no longer recompile."""
    model.compile(backend=backend)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> flat {dotted.key: scalar} for trackers."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return out
