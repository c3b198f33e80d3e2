"""One command at a time per output folder: an exclusive lock file ``<output_dir>/.mmcontrast.lock``.

``with RunLock(output_dir, command="train"):`` raises ``RunError`` while another live train / export / evaluate
holds the folder. The file is created with ``O_CREAT | O_EXCL`` (of racing processes exactly one wins), holds JSON
``{pid, host, command, started, argv, proc_start, token}`` and is ``flock``-ed while held. A lock whose holder is
gone (this host, pid not running or reused; or left empty for ``STALE_GRACE_SECONDS`` by a holder killed while
creating it) is stale: removed, with one line on stderr, and taken over; a lock of another host never is.
Re-entrant per (process, folder). Released by ``release()``, the ``with`` block, or at interpreter exit.
Multi-process runs: only ``RANK`` 0 takes the lock; on other ranks ``RunLock`` is a no-op (``is_lock_holder_rank``).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - not Linux/macOS: the O_EXCL file alone
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".mmcontrast.lock"
STALE_GRACE_SECONDS = 5.0  # an empty lock file younger than this may still be being written


def is_lock_holder_rank() -> bool:
    """True in the process that takes the folder lock: ``RANK`` 0, or no (integer) ``RANK``: a single process."""
    rank = os.environ.get("RANK", "").strip()
    return not rank.isdigit() or int(rank) == 0


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), None if unknown."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _read(source: Path | int) -> dict[str, Any]:
    """The lock's JSON (from a path or an open fd); {} when gone, empty or not a lock (holder killed mid-write)."""
    try:
        raw = source.read_bytes() if isinstance(source, Path) else b"".join(iter(lambda: os.read(source, 65536), b""))
        data = json.loads(raw or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) and data["pid"] > 0 else {}


def _flock_soon(fd: int, seconds: float = 0.5) -> bool:
    """Whether ``fd`` can be flock-ed within ``seconds``: a live holder keeps it, a stale check holds it an instant."""
    for _ in range(int(seconds / 0.05) + 1):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.05)
    return False


@dataclass
class _Held:
    """A lock this process holds: its open flock-ed file, its token, how many ``RunLock``s share it."""
    path: Path
    fd: int
    token: str
    owner_pid: int
    count: int = 1

    def drop(self) -> None:
        """Remove the file if it is still ours, close (so unlock) it. Nothing in a forked child."""
        if self.owner_pid != os.getpid():
            return
        if _read(self.path).get("token") == self.token:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


@atexit.register
def _release_all() -> None:
    with _GUARD:
        for held in _HELD.values():
            held.drop()
        _HELD.clear()


class RunLock:
    """The exclusive lock of ``output_dir`` for ``command``: a context manager, or ``acquire()`` / ``release()``."""

    def __init__(self, output_dir: str | Path, command: str = "train", argv: list[str] | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / LOCK_NAME
        self.command = command
        self.argv = list(sys.argv if argv is None else argv)
        self.held = False  # whether this instance holds (a share of) the lock; always False on ranks > 0
        self._key = self.output_dir

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> RunLock:
        """Take the lock (a share of it if this process holds it already); RunError if another run holds it."""
        if self.held or not is_lock_holder_rank():
            return self
        self.output_dir.mkdir(parents=True, exist_ok=True)
        key = self._key = self.output_dir.resolve()
        with _GUARD:
            if key in _HELD and _HELD[key].owner_pid == os.getpid():
                _HELD[key].count += 1
            else:
                _HELD[key] = self._create()
            self.held = True
        return self

    def release(self) -> None:
        """Give back this instance's share (idempotent); the file goes with the last share, only if still ours."""
        if not self.held:
            return
        self.held = False
        key = self._key
        with _GUARD:
            held = _HELD.get(key)
            if held is not None and held.owner_pid == os.getpid():
                held.count -= 1
                if held.count <= 0:
                    del _HELD[key]
                    held.drop()

    def _create(self) -> _Held:
        for _ in range(5):  # another round only after a stale lock was removed or the file vanished
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._clear_if_stale()
                continue
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # at most a stale check holds it, for an instant
            pid, token = os.getpid(), uuid.uuid4().hex
            info = {"pid": pid, "host": socket.gethostname(), "command": self.command,
                    "started": datetime.now().astimezone().isoformat(timespec="seconds"), "argv": self.argv,
                    "proc_start": process_start(pid), "token": token}
            try:
                os.write(fd, json.dumps(info).encode())
            except OSError as error:  # no space left: leave no empty lock behind
                os.close(fd)
                self.path.unlink(missing_ok=True)
                raise RunError(f"cannot write {self.path} ({error.strerror}): free space or use another output_dir")
            return _Held(self.path, fd, token, pid)
        raise self._busy(_read(self.path))

    def _clear_if_stale(self) -> None:
        """Remove the existing lock file if its holder is gone; RunError naming the holder if it may not be."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            if fcntl is not None and not _flock_soon(fd):
                raise self._busy(_read(fd))  # its holder (or a child it forked) is alive
            try:
                if os.stat(self.path).st_ino != os.fstat(fd).st_ino:
                    return  # replaced since we opened it: look again
            except FileNotFoundError:
                return
            info = _read(fd)
            reason = self._stale_reason(info, time.time() - os.fstat(fd).st_mtime)
            if reason is None:
                raise self._busy(info)
            self.path.unlink()  # under our flock: a new holder's file cannot be the one removed
            print(f"mmcontrast: removed a stale lock {reason}: {self.path}", file=sys.stderr, flush=True)
        finally:
            os.close(fd)

    @staticmethod
    def _stale_reason(info: dict[str, Any], age: float) -> str | None:
        """Why the lock is stale (its holder is gone), or None if its holder may be alive."""
        if not info:
            return "file left empty by a killed command" if age > STALE_GRACE_SECONDS else None
        if info.get("host") != socket.gethostname():
            return None  # its pid cannot be checked from here
        pid, what = info["pid"], f"of {info.get('command', 'mmcontrast')} pid {info['pid']}"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"{what} (not running)"
        except PermissionError:  # alive, another user's
            pass
        recorded, start = info.get("proc_start"), process_start(pid)
        if recorded is not None and start is not None and start != recorded:
            return f"{what} (not running; its pid is now another process)"
        return None

    def _busy(self, info: dict[str, Any]) -> RunError:
        user = (f"mmcontrast {info.get('command', '?')} (pid {info['pid']} on host {info.get('host', '?')}, since "
                f"{info.get('started', '?')})" if info else "another mmcontrast command (its lock is being written)")
        return RunError(f"{self.output_dir} is in use by {user}: wait for it to finish, or use another output_dir; "
                        f"if no such run exists, delete {self.path}")
