"""A user's work is never lost or published broken: export/evaluate never replace a trained model, a NaN run
keeps its last good checkpoint and exports nothing, a folder holds one run (changed configs, ``resume=false`` and
concurrent runs are refused), checkpoints hold no code, a broken newest checkpoint falls back, tokens are never
written. Each test fails on the code before the run-safety work (see the issue's defect list)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT
from helpers import accelerate_launch, child_env
from mmcontrast.cli import main
from mmcontrast.training.checkpoint import complete_checkpoints

CONFIG = ROOT / "configs" / "quickstart.yaml"
QUICK = ["train.progress_bar=false", "train.max_steps=4", "train.batch_size=32", "evaluators=[]",
         "train.log_every=1", "train.warmup_ratio=0"]


def cli(capsys: pytest.CaptureFixture[str], command: str, out: Path, *overrides: str, flags: tuple[str, ...] = ()
        ) -> tuple[int, str]:
    """Run ``mmcontrast COMMAND`` in this process on the quickstart config; (exit code, stderr)."""
    code = main([command, "--config", str(CONFIG), f"output_dir={out}", *QUICK, *overrides, *flags])
    return code, capsys.readouterr().err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def steps(out: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in complete_checkpoints(out))


def error_line(err: str) -> str:
    """The single error line a command printed (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_a_run_always_leaves_its_final_checkpoint_and_export_reads_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out)[0] == 0  # checkpoint_every: null, as in the quickstart
    assert steps(out) == [4]
    final = out / "final" / "model.safetensors"
    trained = digest(final)
    # export without --overwrite never replaces the trained export
    code, err = cli(capsys, "export", out)
    assert code == 2 and "--overwrite" in error_line(err)
    assert digest(final) == trained
    # with --overwrite it re-exports the same trained weights (from the final checkpoint), not random ones
    code, err = cli(capsys, "export", out, flags=("--overwrite",))
    assert code == 0 and "step-4" in err
    assert digest(final) == trained
    card = (out / "final" / "README.md").read_text()
    assert "Trained for 4 steps" in card


def test_export_and_evaluate_without_a_checkpoint_refuse_the_untrained_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out)[0] == 0
    trained = digest(out / "final" / "model.safetensors")
    for path in (out / "checkpoints").iterdir():  # as a run from before checkpoints were always written
        shutil.rmtree(path)
    for command in ("export", "evaluate"):
        code, err = cli(capsys, command, out, flags=("--overwrite",) if command == "export" else ())
        assert code == 2 and "--untrained" in error_line(err), err
    assert digest(out / "final" / "model.safetensors") == trained
    # asked for explicitly, the untrained model is evaluated (and says so)
    knn = ("evaluators=[{name: knn, train: {name: sklearn_digits, split: train}, "
           "test: {name: sklearn_digits, split: test}}]")
    code, err = cli(capsys, "evaluate", out, knn, flags=("--untrained",))
    assert code == 0 and "the untrained model (--untrained)" in err


def test_non_finite_loss_stops_keeps_the_last_good_checkpoint_and_exports_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = cli(capsys, "train", out, "train.lr=1e6", "train.max_steps=40", "train.checkpoint_every=1")
    assert code == 3, err
    line = error_line(err)
    bad_step = int(line.split("at step ")[1].split(":")[0])
    assert "NaN or infinite" in line and 1 <= bad_step < 40
    assert not (out / "final").exists()
    kept = steps(out)
    assert kept and max(kept) < bad_step, (kept, bad_step)  # nothing saved at or after the bad step
    for tensor in load_file(str(out / "checkpoints" / f"step-{max(kept)}" / "model.safetensors")).values():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all()
    # metrics.jsonl is strict JSON (no bare NaN) and stops at the last logged good step
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
            for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(r["step"] <= bad_step for r in rows)


def test_metrics_are_strict_json(tmp_path):
    from mmcontrast.training.trackers import JSONLTracker, read_metrics

    tracker = JSONLTracker("run", tmp_path)
    tracker.log({"eval/sts/spearman": float("nan"), "train/loss": float("inf"), "train/lr": 0.1}, step=3)
    line = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in line and "Infinity" not in line
    assert read_metrics(tmp_path) == [{"step": 3, "eval/sts/spearman": None, "train/loss": None, "train/lr": 0.1}]


def test_export_refuses_non_finite_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "export.enabled=false")[0] == 0
    weights = out / "checkpoints" / "step-4" / "model.safetensors"
    from safetensors.torch import save_file

    tensors = load_file(str(weights))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[name][0] = float("nan")
    save_file(tensors, str(weights))
    code, err = cli(capsys, "export", out)
    assert code == 2 and "NaN or infinite" in error_line(err)
    assert not (out / "final").exists()


def test_resume_false_on_a_used_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "train.checkpoint_every=2")[0] == 0
    before = steps(out)
    code, err = cli(capsys, "train", out, "train.resume=false", "train.max_steps=2")
    assert code == 2 and "--overwrite" in error_line(err)
    assert steps(out) == before
    assert cli(capsys, "train", out, "train.resume=false", "train.max_steps=2", flags=("--overwrite",))[0] == 0
    assert steps(out) == [2]  # the old run's step-4 did not win pruning


def test_resume_refuses_a_changed_config_and_lists_the_keys(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "train.max_steps=2", "export.enabled=false")[0] == 0
    code, err = cli(capsys, "train", out, "train.max_steps=4", "train.lr=0.5", "objective.temperature=0.3")
    line = error_line(err)
    assert code == 2 and "train.lr: 0.002 -> 0.5" in line and "objective.temperature: 0.2 -> 0.3" in line
    assert "--allow-config-change" in line and steps(out) == [2]
    # more steps is a safe change: the run resumes at step 2 and goes on to 4
    code, err = cli(capsys, "train", out, "train.max_steps=4", "export.enabled=false")
    assert code == 0 and "train.max_steps: 2 -> 4" in err, err
    assert steps(out) == [2, 4]
    # a checkpoint past the config's last step is refused, not exported as "2 steps"
    code, err = cli(capsys, "train", out, "train.max_steps=2")
    assert code == 2 and "past this config's 2 steps" in error_line(err)
    # forced: resumes, saying which keys differ
    code, err = cli(capsys, "train", out, "train.max_steps=5", "train.lr=0.001", flags=("--allow-config-change",))
    assert code == 0 and "FORCED" in err and steps(out)[-1] == 5


def test_export_refuses_a_checkpoint_of_another_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "export.enabled=false")[0] == 0
    code, err = cli(capsys, "export", out, "head.output_dim=32")
    assert code == 2 and "head.output_dim: 64 -> 32" in error_line(err)
    assert not (out / "final").exists()


def test_a_complete_run_is_not_trained_or_exported_again(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out)[0] == 0
    trained = digest(out / "final" / "model.safetensors")
    code, err = cli(capsys, "train", out)
    assert code == 0 and digest(out / "final" / "model.safetensors") == trained
    assert steps(out) == [4]


class Payload:
    """Unpickling this runs ``open(marker, 'w')``: proof of code execution if the marker appears."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_holding_a_malicious_pickle_is_not_executed(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "train.max_steps=2", "export.enabled=false")[0] == 0
    checkpoint = out / "checkpoints" / "step-2"
    marker = tmp_path / "pwned"
    for name in ("custom_checkpoint_0.pkl", "optimizer.bin"):  # the old scheduler file, and a file Accelerate loads
        with open(checkpoint / name, "wb") as handle:
            pickle.dump(Payload(marker), handle)
    code, err = cli(capsys, "train", out, "export.enabled=false")  # resume from step-2
    assert code == 2 and "not plain tensor data" in error_line(err)
    assert not marker.exists()
    # the old layout (no scheduler in the state file: read from custom_checkpoint_0.pkl) is read without code too
    state_file = checkpoint / "training_state.json"
    state = json.loads(state_file.read_text())
    del state["scheduler"]
    state_file.write_text(json.dumps(state))
    (checkpoint / "optimizer.bin").unlink()
    code, err = cli(capsys, "train", out, "export.enabled=false")
    assert code == 2 and not marker.exists()


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "train.checkpoint_every=2", "export.enabled=false")[0] == 0
    (out / "checkpoints" / "step-35-backup").mkdir()  # a stray folder: ignored, never int()-parsed
    weights = out / "checkpoints" / "step-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, err = cli(capsys, "export", out)
    assert code == 0 and "step-4" in err and "step-2" in err
    code, err = cli(capsys, "train", out, "train.checkpoint_every=2", "train.max_steps=6", "export.enabled=false")
    assert code == 0 and "step-4 cannot be loaded" in err and "using step-2" in err, err
    assert steps(out) == [4, 6]  # step-4 was trained again from step-2 and replaced the damaged one


def test_metrics_rows_are_not_duplicated_after_a_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out, "train.checkpoint_every=2", "export.enabled=false")[0] == 0
    shutil.rmtree(out / "checkpoints" / "step-4")  # as if killed after logging steps 3-4, before their checkpoint
    assert cli(capsys, "train", out, "train.checkpoint_every=2", "export.enabled=false")[0] == 0
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "train/loss" in line]
    assert logged == [1, 2, 3, 4]


def test_a_full_disk_names_the_space_and_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    from accelerate import Accelerator

    out = tmp_path / "run"
    original = Accelerator.save_state
    calls = {"n": 0}

    def save_state(self, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", save_state)
    code, err = cli(capsys, "train", out, "train.checkpoint_every=2")
    line = error_line(err)
    assert code == 2 and "no space left" in line and "step-2" in line
    assert steps(out) == [2] and not list((out / "checkpoints").glob(".tmp-*"))


def test_an_export_that_cannot_work_fails_before_step_one(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = cli(capsys, "train", out, "head.train_only=false")  # an MLP with BatchNorm kept for evaluation
    assert code == 2 and "cannot be exported" in error_line(err) and "export.enabled=false" in err
    assert steps(out) == [] and not (out / "metrics.jsonl").exists()


def test_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, err = cli(capsys, "train", afile)
    assert code == 2 and "is a file" in error_line(err)
    assert afile.read_text() == "x"  # (read-only folders: B18 / B18b in test_bad_inputs.py)


def test_tokens_are_never_written(tmp_path, capsys):
    token = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE"
    out = tmp_path / "run"
    code, err = cli(capsys, "train", out, f"name={token}")
    assert code == 0, err
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".md", ".jsonl", ".txt", ""):
            assert token not in path.read_text(errors="ignore"), path
    code, err = cli(capsys, "train", tmp_path / "run2", f"export.hub_token_env={token}")
    assert code == 2 and token not in err and "hub_token_env" in error_line(err)


def test_the_exported_config_holds_no_absolute_path(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", out)[0] == 0
    text = (out / "final" / "mmcontrast_config.yaml").read_text()
    assert str(tmp_path) not in text and "output_dir: run" in text


@pytest.mark.slow
def test_a_second_run_on_a_folder_in_use_refuses_and_the_first_finishes_intact(tmp_path, capsys):
    out = tmp_path / "run"
    env = child_env()
    first = subprocess.Popen([sys.executable, "-m", "mmcontrast.cli", "train", "--config", str(CONFIG),
                              f"output_dir={out}", *QUICK, "train.max_steps=60", "train.checkpoint_every=10"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / ".mmcontrast.lock").exists() and time.time() < deadline:
            time.sleep(0.2)
        code, err = cli(capsys, "train", out, "train.max_steps=60")
        assert code == 2 and f"pid {first.pid}" in error_line(err)
        code, err = cli(capsys, "export", out, flags=("--overwrite",))
        assert code == 2 and "in use" in error_line(err)
        _, first_err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGKILL)
    assert first.returncode == 0, first_err[-3000:]
    assert steps(out) == [50, 60] and (out / "final" / "model.safetensors").is_file()
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "train/loss" in line]
    assert logged == list(range(1, 61))
    assert not (out / ".mmcontrast.lock").exists()


@pytest.mark.slow
def test_a_frozen_process_stops_the_others_with_a_message(tmp_path):
    out = tmp_path / "run"
    env = child_env()
    cmd = accelerate_launch(str(ROOT / "tests" / "frozen_rank_script.py"), "1", "3", "120", "--config", str(CONFIG),
                            f"output_dir={out}", *QUICK, "train.max_steps=6", "train.collective_timeout=10")
    start = time.time()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert time.time() - start < 110  # stopped by the 10 s timeout, not by the 120 s freeze ending
    assert "train.collective_timeout" in done.stderr, done.stderr[-3000:]


@pytest.mark.slow
def test_killing_accelerate_launch_stops_its_workers_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    env = child_env()
    args = ["--config", str(CONFIG), f"output_dir={out}", *QUICK, "train.max_steps=400", "train.checkpoint_every=2",
            "export.enabled=false"]
    launcher = subprocess.Popen(accelerate_launch(str(ROOT / "scripts" / "train.py"), *args), cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.time() + 180
        while not complete_checkpoints(out) and time.time() < deadline:
            time.sleep(0.5)
        assert complete_checkpoints(out), "no checkpoint within 180 s"
        children = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split()
        workers = [int(pid) for pid in children]
        assert len(workers) >= 2, children
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)
        deadline = time.time() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
            time.sleep(0.2)
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]]
        assert not alive, f"workers still running after the launcher was killed: {alive}"
        written = sorted(p.name for p in (out / "checkpoints").iterdir())
        time.sleep(3)
        assert sorted(p.name for p in (out / "checkpoints").iterdir()) == written  # nobody writes any more
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # the lock of the killed run is stale: a new run takes it over and resumes from the last checkpoint
    last = max(int(p.name.split("-")[1]) for p in complete_checkpoints(out))
    done = subprocess.run([sys.executable, "-m", "mmcontrast.cli", "train", *args[:-3], "train.max_steps=" +
                           str(last + 2), "train.checkpoint_every=2", "export.enabled=false"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stale lock" in done.stderr and "resumed from" in done.stdout + done.stderr
    assert steps(out)[-1] == last + 2


def test_an_error_re_raised_by_a_dataloader_worker_is_one_line():
    from mmcontrast.cli import user_error
    from mmcontrast.errors import DataError

    worker = DataError("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
                       '  File "x.py", line 1, in f\nmmcontrast.errors.DataError: column \'image\': file \'a/1.png\' '
                       "has shape (3, 20, 24)\n")
    assert user_error(worker) == "column 'image': file 'a/1.png' has shape (3, 20, 24)"


@pytest.mark.slow
def test_two_processes_stop_together_on_a_non_finite_loss(tmp_path):
    out = tmp_path / "run"
    env = child_env()
    cmd = accelerate_launch(str(ROOT / "scripts" / "train.py"), "--config", str(CONFIG), f"output_dir={out}", *QUICK,
                            "train.lr=1e6", "train.max_steps=40", "train.checkpoint_every=1")
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    stops = [line for line in done.stderr.splitlines() if "NaN or infinite at step" in line]
    stopped_at = {line.split("at step ")[1].split(":")[0] for line in stops}
    assert len(stops) == 2 and len(stopped_at) == 1, done.stderr[-3000:]
    assert not (out / "final").exists()
    last = max(steps(out))
    for tensor in load_file(str(out / "checkpoints" / f"step-{last}" / "model.safetensors")).values():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all()


def test_an_untrained_export_says_so_in_its_card(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = cli(capsys, "export", out, flags=("--untrained",))
    assert code == 0 and "the untrained model (--untrained)" in err
    assert "exported untrained" in (out / "final" / "README.md").read_text()


class OneProcess:
    num_processes = 1


@pytest.mark.parametrize("what,named", [("loss", "loss"), ("gradients", "gradients"),
                                        ("clipped gradient norm", "gradients"), ("weights", "weights")])
def test_the_guard_names_the_first_bad_step_and_what_went_bad(what, named):
    from mmcontrast.errors import NonFiniteError
    from mmcontrast.training.finite_guard import FiniteGuard

    guard, layer = FiniteGuard(torch.device("cpu")), torch.nn.BatchNorm1d(3)
    layer.weight.grad = torch.ones(3)
    for step in (1, 2):
        guard.observe_loss(torch.tensor(0.5), step)
        guard.observe_gradients(layer.parameters(), step)
        guard.observe_weights(layer, step)
    guard.raise_if_bad(OneProcess(), "kept")  # all finite so far
    for step in (3, 4):  # bad from step 3 on: the error names 3
        if what == "loss":
            guard.observe_loss(torch.tensor(float("nan")), step)
        elif what == "gradients":
            layer.weight.grad[1] = float("inf")
            guard.observe_gradients(layer.parameters(), step)
        elif what == "clipped gradient norm":
            guard.observe_gradient_norm(torch.tensor(float("nan")), step)
        else:
            layer.running_var[0] = float("inf")
            guard.observe_weights(layer, step)
    with pytest.raises(NonFiniteError, match=f"the {named} became NaN or infinite at step 3"):
        guard.raise_if_bad(OneProcess(), "kept")
