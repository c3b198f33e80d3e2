"""``mmcontrast train`` where one process freezes (used by test_run_safety.py under ``accelerate launch``).

Usage: frozen_rank_script.py FREEZE_RANK FREEZE_STEP SECONDS --config CONFIG [overrides...]
The process of rank FREEZE_RANK sleeps SECONDS before building the views of batch FREEZE_STEP, as a hung data
read or a stuck device would; the other processes wait for it in the gradient all-reduce.
"""

import importlib
import os
import sys
import time

from mmcontrast.cli import main

train_module = importlib.import_module("mmcontrast.training.train")

if __name__ == "__main__":
    freeze_rank, freeze_step, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    if int(os.environ.get("RANK", "0")) == freeze_rank:
        original_flatten = train_module.flatten_views
        calls = {"n": 0}

        def flatten_then_maybe_freeze(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == freeze_step:
                time.sleep(seconds)
            return original_flatten(*args, **kwargs)

        train_module.flatten_views = flatten_then_maybe_freeze
    raise SystemExit(main(sys.argv[4:], command="train"))
