"""The run folder lock (one command per output folder) and the launcher watch (workers die with their launcher)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import accelerate_launch

from mmcontrast.errors import RunError
from mmcontrast.training import run_lock
from mmcontrast.training.launcher_watch import watch_launcher
from mmcontrast.training.run_lock import LOCK_NAME, RunLock, is_lock_holder_rank

SCRIPT = Path(__file__).with_name("run_lock_script.py")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and prctl (Linux)")


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def kill_all(*pids: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def holder(folder: Path) -> subprocess.Popen:
    """A process holding ``folder``'s lock (releases it on a line on stdin)."""
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "hold", str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "acquired"
    return proc


def write_lock(folder: Path, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    info = {"pid": 1, "host": socket.gethostname(), "command": "train", "started": "2026-12-04T15:00:00",
            "argv": ["mmcontrast", "train"], "proc_start": None, "token": "theirs", **fields}
    (folder / LOCK_NAME).write_text(json.dumps(info))
    return folder / LOCK_NAME


def exited_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_process_is_refused_until_release(tmp_path):
    out = tmp_path / "run"
    proc = holder(out)
    try:
        info = json.loads((out / LOCK_NAME).read_text())
        assert info["pid"] == proc.pid and info["command"] == "train" and info["host"] == socket.gethostname()
        with pytest.raises(RunError) as refused:
            RunLock(out, command="export").acquire()
        message = str(refused.value)
        assert f"in use by mmcontrast train (pid {proc.pid} on host" in message
        assert str(out / LOCK_NAME) in message and "\n" not in message
        proc.stdin.write("release\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        assert not (out / LOCK_NAME).exists()
        with RunLock(out, command="export") as lock:
            assert lock.held and json.loads((out / LOCK_NAME).read_text())["command"] == "export"
        assert not (out / LOCK_NAME).exists()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("stale", [False, True], ids=["free", "stale"])
def test_racing_processes_exactly_one_wins(tmp_path, stale):
    if stale:  # all racers find a dead run's lock: exactly one removes it, and wins
        write_lock(tmp_path / "run", pid=exited_pid())
    start_at = time.time() + 1.5
    outs = [tmp_path / f"result-{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), "race", str(tmp_path / "run"), str(start_at), str(o)],
                              stderr=subprocess.PIPE, text=True) for o in outs]
    try:
        errs = [p.communicate(timeout=30)[1] for p in procs]
    finally:
        kill_all(*(p.pid for p in procs))
    assert [p.returncode for p in procs] == [0] * 4, errs
    results = sorted(o.read_text() for o in outs)
    assert results.count("won") == 1, results
    assert all(r.startswith("lost: ") and "wait for it to finish" in r for r in results if r != "won")
    assert "".join(errs).count("removed a stale lock") == (1 if stale else 0), errs


def test_lock_file_holds_the_run_and_release_removes_it(tmp_path):
    out = tmp_path / "a" / "b"
    lock = RunLock(out, command="evaluate", argv=["mmcontrast", "evaluate", "x.yaml"]).acquire()
    info = json.loads((out / LOCK_NAME).read_text())
    assert info["pid"] == os.getpid() and info["command"] == "evaluate" and info["argv"][-1] == "x.yaml"
    assert info["started"][:4].isdigit() and "T" in info["started"]
    lock.release()
    lock.release()  # idempotent
    assert not (out / LOCK_NAME).exists()


def test_reentrant_in_one_process_and_released_on_exception(tmp_path):
    with pytest.raises(ValueError):
        with RunLock(tmp_path, command="train"):
            with RunLock(tmp_path, command="export") as inner:
                assert inner.held
            assert (tmp_path / LOCK_NAME).exists()  # the outer share still holds it
            raise ValueError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_live_holder_on_this_host_is_refused(tmp_path):
    lock_file = write_lock(tmp_path, pid=os.getppid())
    with pytest.raises(RunError, match=f"pid {os.getppid()} on host"):
        RunLock(tmp_path).acquire()
    assert json.loads(lock_file.read_text())["token"] == "theirs"


def test_stale_lock_of_exited_process_is_taken_over(tmp_path, capsys):
    pid = exited_pid()
    write_lock(tmp_path, pid=pid, command="export")
    with RunLock(tmp_path, command="train"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"removed a stale lock of export pid {pid} (not running)" in err[0]


@linux_only
def test_lock_of_a_reused_pid_is_stale(tmp_path, capsys):
    write_lock(tmp_path, pid=os.getpid(), proc_start=run_lock.process_start(os.getpid()) - 1)
    with RunLock(tmp_path):
        pass
    assert "its pid is now another process" in capsys.readouterr().err


def test_empty_lock_is_stale_only_after_the_grace_period(tmp_path, capsys):
    lock_file = tmp_path / LOCK_NAME
    lock_file.write_bytes(b"")
    with pytest.raises(RunError, match="in use by another mmcontrast command"):
        RunLock(tmp_path).acquire()
    old = time.time() - run_lock.STALE_GRACE_SECONDS - 5
    os.utime(lock_file, (old, old))
    with RunLock(tmp_path):
        pass
    assert "removed a stale lock file left empty" in capsys.readouterr().err


def test_lock_of_another_host_is_not_taken_over(tmp_path):
    lock_file = write_lock(tmp_path, pid=exited_pid(), host="elsewhere")
    old = time.time() - 3600
    os.utime(lock_file, (old, old))
    with pytest.raises(RunError, match="in use by mmcontrast train .* on host elsewhere"):
        RunLock(tmp_path).acquire()
    assert json.loads(lock_file.read_text())["host"] == "elsewhere"


def test_sigkilled_holder_leaves_a_stale_lock_the_next_run_takes(tmp_path, capsys):
    proc = holder(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / LOCK_NAME).exists()
    with RunLock(tmp_path):
        pass
    assert f"pid {proc.pid} (not running)" in capsys.readouterr().err


def test_release_does_not_delete_someone_elses_lock(tmp_path):
    lock = RunLock(tmp_path).acquire()
    write_lock(tmp_path, pid=os.getppid())  # ours was removed (say, by hand) and another run took the folder
    lock.release()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == "theirs"


def test_other_ranks_take_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert not is_lock_holder_rank()
    with RunLock(tmp_path / "run") as lock:
        assert not lock.held and not (tmp_path / "run" / LOCK_NAME).exists()
    monkeypatch.setenv("RANK", "0")
    assert is_lock_holder_rank()


def test_watch_launcher_does_nothing_in_a_plain_process(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert watch_launcher() is False


def run_orphaned_worker(folder: Path, *worker_args: str) -> tuple[int, str]:
    """Start a stand-in launcher with one worker, SIGKILL the launcher; the worker's pid and its stderr."""
    folder.mkdir()
    with open(folder / "stderr", "w") as err:
        parent = subprocess.Popen([sys.executable, str(SCRIPT), "parent", str(folder), *worker_args], stderr=err)
    worker = 0
    try:
        assert wait_until(lambda: (folder / "pid-0").exists() and (folder / "beat-0").exists(), 20)
        worker = int((folder / "pid-0").read_text())
        assert (folder / "threads-0").read_text() == "1"
        parent.kill()
        parent.wait()
        assert wait_until(lambda: not running(worker), 5), "the worker outlived its launcher"
        return worker, (folder / "stderr").read_text()
    finally:
        kill_all(parent.pid, *([worker] if worker else []))


@linux_only
def test_orphaned_worker_stops_by_polling_even_when_it_ignores_sigterm(tmp_path):
    worker, err = run_orphaned_worker(tmp_path / "w", "0.2", "ignore-term")
    assert "mmcontrast: the launcher (pid" in err and "is gone: stopping this worker" in err


@linux_only
def test_orphaned_worker_stops_at_once_by_parent_death_signal(tmp_path):
    worker, err = run_orphaned_worker(tmp_path / "w", "1000")  # polling too slow to matter: PDEATHSIG did it
    assert "is gone" not in err


@pytest.mark.slow
@linux_only
def test_killing_accelerate_launch_stops_its_workers(tmp_path):
    cmd = accelerate_launch(SCRIPT, "worker", str(tmp_path), "0.2")
    launcher = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        assert wait_until(lambda: all((tmp_path / f"beat-{r}").exists() for r in (0, 1)), 120)
        pids = [int((tmp_path / f"pid-{r}").read_text()) for r in (0, 1)]
        parents = [int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]) for p in pids]
        assert parents == [launcher.pid] * 2  # the workers are the launcher's own children
        launcher.kill()
        launcher.wait()
        assert wait_until(lambda: not any(running(p) for p in pids), 10), "workers outlived the launcher"
        beats = [(tmp_path / f"beat-{r}").read_text() for r in (0, 1)]
        time.sleep(0.5)
        assert [(tmp_path / f"beat-{r}").read_text() for r in (0, 1)] == beats
    finally:
        kill_all(launcher.pid, *pids)
        launcher.wait()
