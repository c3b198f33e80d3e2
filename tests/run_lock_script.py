"""Subprocess side of tests/test_run_lock.py: hold a run lock, race for one, or act as a launcher's worker.

    run_lock_script.py hold DIR                      take the lock of DIR, print "acquired"; on a line on stdin
                                                     release it and print "released"; then sleep until killed
    run_lock_script.py race DIR START_AT OUT         at time START_AT try the lock, write "won"/"lost: ..." to OUT
    run_lock_script.py worker DIR POLL [ignore-term] watch_launcher(POLL) twice, write DIR/pid-<rank> and
                                                     DIR/threads-<rank>, then beat into DIR/beat-<rank> forever
    run_lock_script.py parent DIR POLL [ignore-term] a stand-in launcher: start one ``worker`` child, sleep

It imports the two modules without ``mmcontrast/training/__init__.py`` (which imports torch), so it starts fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_light = types.ModuleType("mmcontrast.training")
_light.__path__ = [str(ROOT / "mmcontrast" / "training")]  # type: ignore[attr-defined]
sys.modules.setdefault("mmcontrast.training", _light)

from mmcontrast.errors import RunError  # noqa: E402
from mmcontrast.training.launcher_watch import watch_launcher  # noqa: E402
from mmcontrast.training.run_lock import RunLock  # noqa: E402


def main(mode: str, folder: str, *rest: str) -> None:
    if mode == "hold":
        lock = RunLock(folder, command="train").acquire()
        print("acquired", flush=True)
        sys.stdin.readline()
        lock.release()
        print("released", flush=True)
        time.sleep(3600)
    elif mode == "race":
        time.sleep(max(0.0, float(rest[0]) - time.time()))
        try:
            with RunLock(folder, command="train"):
                Path(rest[1]).write_text("won")
                time.sleep(1.5)  # hold it while the other racers look
        except RunError as error:
            Path(rest[1]).write_text(f"lost: {error}")
    elif mode == "worker":
        if rest[1:] == ("ignore-term",):  # only the polling thread can stop this worker
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        watch_launcher(float(rest[0]))
        watch_launcher(float(rest[0]))  # idempotent: still one watching thread
        rank = os.environ.get("LOCAL_RANK", "0")
        watchers = [t for t in threading.enumerate() if t.name == "mmcontrast-launcher-watch"]
        Path(folder, f"threads-{rank}").write_text(str(len(watchers)))
        Path(folder, f"pid-{rank}").write_text(str(os.getpid()))
        beat = Path(folder, f"beat-{rank}")
        for count in range(10**9):
            beat.write_text(str(count))
            time.sleep(0.1)
    elif mode == "parent":
        env = {**os.environ, "LOCAL_RANK": "0"}
        subprocess.Popen([sys.executable, __file__, "worker", folder, *rest], env=env, start_new_session=True)
        time.sleep(3600)


if __name__ == "__main__":
    main(*sys.argv[1:])
