"""Workers stop when their launcher dies: killing ``accelerate launch`` (even with SIGKILL) ends its workers.

``accelerate launch`` (torchelastic) starts each worker as a direct child in a NEW session, so the workers outlive
a killed launcher and a Ctrl-C'd terminal, and go on training and writing into the run's folder. In a worker
(``TORCHELASTIC_RUN_ID`` or ``LOCAL_RANK`` set), ``watch_launcher()`` arms two guards: on Linux
``prctl(PR_SET_PDEATHSIG, SIGTERM)`` (immediate; the kernel signals when the thread that forked the worker
exits, the launcher's main thread here), and a daemon thread polling ``os.getppid()`` that, once the worker has
been re-parented, prints one line on stderr and ends the process with ``os._exit(1)`` (the guarantee: it also
works when SIGTERM is handled or ignored). In a plain single process it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
_started = False
_guard = threading.Lock()


def under_launcher() -> bool:
    """Whether this process is a worker started by a launcher (``accelerate launch`` / ``torchrun``)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _stop_when_orphaned(launcher: int, poll_seconds: float) -> None:
    while os.getppid() == launcher:
        time.sleep(poll_seconds)
    print(f"mmcontrast: the launcher (pid {launcher}) is gone: stopping this worker", file=sys.stderr, flush=True)
    os._exit(1)


def watch_launcher(poll_seconds: float = 1.0) -> bool:
    """Under a launcher, end this worker within ``poll_seconds`` of the launcher's death; returns whether it
    watches. Idempotent: a second call does nothing. Call it first thing in the worker (before the training)."""
    global _started
    if not under_launcher():
        return False
    with _guard:
        if _started:
            return True
        _started = True
    launcher = os.getppid()
    _set_parent_death_signal(signal.SIGTERM)
    threading.Thread(target=_stop_when_orphaned, args=(launcher, poll_seconds), name="mmcontrast-launcher-watch",
                     daemon=True).start()
    return True
