"""``train(cfg)``: one readable training function over Accelerate."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..config import Config, config_to_yaml
from ..data import build_dataset, collate_rows
from ..data.samplers import build_batch_sampler
from ..encoders import ContrastiveModel
from ..errors import ConfigError, RunError
from ..export.checks import export_problems
from ..secrets import redact_secrets
from .build import build_evaluators, build_learner, build_view
from .checkpoint import load_newest_loadable, save_checkpoint
from .finite_guard import FiniteGuard
from .fingerprint import config_tree, fingerprint
from .grad_cache import grad_cache_step
from .launcher_watch import watch_launcher
from .learner import Learner, flatten_views
from .optim import build_optimizer, build_scheduler
from .run_folder import FINAL, check_resumable, check_writable, clear_run, plan_start, trim_metrics
from .run_lock import RunLock, is_lock_holder_rank
from .trackers import JSONLTracker


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
    from datetime import timedelta

    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.utils import InitProcessGroupKwargs, ProjectConfiguration, set_seed
    from tqdm.auto import tqdm

    t = cfg.train
    tree = redact_secrets(config_tree(cfg))
    _release_other_precision(t.mixed_precision)
    accelerator = Accelerator(
        cpu=_distributed_cpu_launch(),
        mixed_precision=t.mixed_precision,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        log_with=_trackers(t.log_with, cfg.name, output_dir),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir)),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(seconds=t.collective_timeout))],
    )
    _check_precision(t.mixed_precision, accelerator.device)
    plan = plan_start(output_dir, tree, t.max_steps, t.resume, overwrite, allow_config_change)  # refuse before building
    set_seed(cfg.seed)  # same initial weights on every process

    dataset = IndexedRows(build_dataset(cfg.data.train))
    batch_sampler = None
    if cfg.data.batch_sampler is not None:
        batch_sampler = build_batch_sampler(cfg.data.batch_sampler, dataset.dataset, t.batch_size,
                                            cfg.data.drop_last, cfg.data.shuffle, cfg.seed)
        loader = DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collate_rows,
                            num_workers=cfg.data.num_workers)
    else:
        loader = DataLoader(
            dataset, batch_size=t.batch_size, shuffle=cfg.data.shuffle, drop_last=cfg.data.drop_last,
            collate_fn=collate_rows, num_workers=cfg.data.num_workers,
            # its own generator: creating an iterator must not draw from the global RNG that dropout uses,
            # or a resumed run (which creates its iterator after restoring the RNG) would diverge
            generator=torch.Generator().manual_seed(cfg.seed),
        )
    if len(loader) == 0:
        raise ConfigError(f"{len(dataset)} rows give no batch of {t.batch_size} with data.drop_last=true: lower "
                          "train.batch_size or set data.drop_last=false")
    learner = build_learner(cfg, num_samples=len(dataset))
    _check_queue_fits(learner, t.batch_size * accelerator.num_processes)
    view = build_view(cfg, seed=cfg.seed + accelerator.process_index, device=accelerator.device)
    evaluators = build_evaluators(cfg) if accelerator.is_main_process else []
    if cfg.export.enabled:  # before step 1: a run must never be lost to an export that cannot work
        problems = export_problems(learner.model)
        if problems:
            raise ConfigError(f"this model cannot be exported: {'; '.join(problems)} (or set export.enabled=false)")
    optimizer = build_optimizer(learner, t)
    if t.compile:
        compile_model(learner.model, t.compile_backend)

    learner, optimizer, loader = accelerator.prepare(learner, optimizer, loader)
    steps_per_epoch = max(1, len(loader) // t.gradient_accumulation_steps)
    total_steps = t.max_steps if t.max_steps is not None else math.ceil(t.epochs * steps_per_epoch)
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
        last_checkpoint, state = load_newest_loadable(accelerator, plan.candidates, generator, scheduler)
        if last_checkpoint != plan.candidates[0]:  # fell back: its config was not checked yet
            check_resumable(last_checkpoint, state, tree, allow_config_change, what="resume")
        step, initial_metrics = state["step"], state.get("initial_metrics", {})
        if step > total_steps:
            raise RunError(f"checkpoint {last_checkpoint} is at step {step}, past this config's {total_steps} steps: "
                           "raise train.max_steps or train.epochs, or pass --overwrite to start over")
        accelerator.print(f"resumed from {last_checkpoint} at step {step}")
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
            views = view(batch)
            inputs, layout, crop_inputs = flatten_views(model, views)
            inputs = _to(inputs, accelerator.device)
            crop_inputs = [_to(c, accelerator.device) for c in crop_inputs]
            labels = views.labels.to(accelerator.device) if views.labels is not None else None
            indices = views.indices.to(accelerator.device) if views.indices is not None else None
            with accelerator.accumulate(learner):
                if t.chunk_size:  # gradient caching: forward and backward in chunks, the loss over all rows
                    loss, _ = grad_cache_step(learner, inputs, layout, labels, indices, crop_inputs, t.chunk_size,
                                              backward=accelerator.backward, autocast=accelerator.autocast)
                else:
                    loss, _ = learner(inputs, layout, labels, indices, crop_inputs)
                    accelerator.backward(loss)
                guard.observe_loss(loss, step + 1)
                if accelerator.sync_gradients:
                    norm = None  # clipping computes the total norm: the guard reads it instead of a second pass
                    if t.max_grad_norm is not None:
                        norm = accelerator.clip_grad_norm_(learner.parameters(), t.max_grad_norm)
                    if norm is None:
                        guard.observe_gradients(learner.parameters(), step + 1)
                    else:
                        guard.observe_gradient_norm(norm, step + 1)
                optimizer.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            if not optimizer.step_was_skipped:  # fp16: the loss scaler skips a step whose gradients overflowed
                scheduler.step()
            step += 1
            accelerator.unwrap_model(learner).after_optimizer_step(step, total_steps)
            progress.update(1)
            if step % t.log_every == 0 or step == total_steps:
                check_finite()
                mean_loss = accelerator.reduce(loss.detach().float(), reduction="mean").item()
                progress.set_postfix(loss=f"{mean_loss:.4f}")
                accelerator.log({"train/loss": mean_loss, "train/lr": scheduler.get_last_lr()[0]}, step=step)
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
        from ..export import export_final

        try:
            export_path = export_final(model, cfg, final_metrics, output_dir / FINAL, initial_metrics, step)
        except (ValueError, OSError) as err:
            raise RunError(f"training finished and its checkpoint {last_checkpoint} is saved, but the export to "
                           f"{output_dir / FINAL} failed ({err}): fix the cause, then run mmcontrast export") from err
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(model, step, initial_metrics, final_metrics, export_path, accelerator.unwrap_model(learner))


def _evaluate(accelerator: Any, model: ContrastiveModel, evaluators: list[Any], step: int) -> dict[str, float]:
    """Run every evaluator on the main process; log and print the metrics."""
    metrics: dict[str, float] = {}
    if accelerator.is_main_process and evaluators:
        from ..evaluation.base import run_evaluators

        metrics = run_evaluators(evaluators, model)
        accelerator.log({f"eval/{k}": v for k, v in metrics.items()}, step=step)
        accelerator.print(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    accelerator.wait_for_everyone()
    return metrics


def _check_precision(mixed_precision: str, device: torch.device) -> None:
    """fp16 needs an accelerator: on CPU Accelerate applies neither float16 autocast nor loss scaling, and the run
    would silently train in float32."""
    if mixed_precision == "fp16" and device.type == "cpu":
        raise ConfigError("train.mixed_precision=fp16 needs a GPU (on CPU Accelerate applies neither float16 autocast "
                         "nor loss scaling, so the run would silently train in float32); use bf16 on CPU")


def _release_other_precision(mixed_precision: str) -> None:
    """Accelerate keeps one process-wide ``AcceleratorState`` and refuses an Accelerator of another precision in
    the same process (a bf16 run after a float32 one, in a notebook or a test session): forget the previous run's
    precision state (the process group, in ``PartialState``, is kept)."""
    from accelerate.state import AcceleratorState

    shared = AcceleratorState._shared_state
    if shared and str(shared.get("_mixed_precision", mixed_precision)) != mixed_precision:
        AcceleratorState._reset_state()


def compile_model(model: torch.nn.Module, backend: str = "inductor") -> None:
    """``torch.compile`` the model (encoder + head) in place with ``backend`` (``nn.Module.compile``: parameter
    names, checkpoints and export are unchanged; the objective stays eager). Text batches vary in length: the
    second shape seen compiles a dynamic-shape graph, after which lengths no longer recompile."""
    model.compile(backend=backend)


def _check_queue_fits(learner: Learner, global_batch: int) -> None:
    """A MoCo queue smaller than the global batch would overwrite keys before they are used: fail before training."""
    size = getattr(learner.objective.negatives, "size", None)
    if isinstance(size, int) and size < global_batch:
        raise ConfigError(f"negatives.size {size} is smaller than the global batch {global_batch} "
                         "(train.batch_size x processes): a queue must hold at least one global batch of keys")


def _to(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move (possibly nested: two towers) model inputs to ``device``."""
    return {k: _to(v, device) if isinstance(v, dict) else v.to(device) for k, v in inputs.items()}


class IndexedRows(torch.utils.data.Dataset):
    """Adds each row's position as an ``index`` column (memory banks address samples by it)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = dict(self.dataset[index])
        row.setdefault("index", index)
        return row


def _distributed_cpu_launch() -> bool:
    """``accelerate launch --multi_gpu`` on a machine without CUDA starts N processes whose Accelerator only
    forms a (gloo) process group when told it runs on CPU; without this each process trains alone."""
    import os

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def _trackers(names: list[str], run_name: str, output_dir: Path) -> list[Any] | None:
    """Accelerate trackers by name (``jsonl`` is ours; tensorboard, wandb, ... are Accelerate's)."""
    return [JSONLTracker(run_name, output_dir) if n == "jsonl" else n for n in names] or None


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> flat {dotted.key: scalar} for trackers."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return out
