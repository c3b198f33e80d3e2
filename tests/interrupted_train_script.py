"""Run ``train(cfg)`` and SIGKILL the process at a chosen point (used by test_training.py).

Usage: interrupted_train_script.py CONFIG MODE STEP [overrides...]
  MODE=between  kill while computing optimizer step STEP (after the last checkpoint, before the next)
  MODE=saving   kill in the middle of writing the checkpoint of step STEP
"""

import importlib
import os
import signal
import sys

from mmcontrast.config import load_config

train_module = importlib.import_module("mmcontrast.training.train")
checkpoint_module = importlib.import_module("mmcontrast.training.checkpoint")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    config, mode, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = load_config(config, sys.argv[4:])
    if mode == "between":
        original_flatten = train_module.flatten_views
        calls = {"n": 0}

        def flatten_then_maybe_die(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == step:
                die()
            return original_flatten(*args, **kwargs)

        train_module.flatten_views = flatten_then_maybe_die
    elif mode == "saving":
        original_save = checkpoint_module.save_checkpoint

        def save_then_maybe_die(accelerator, output_dir, at_step, *args, **kwargs):
            if at_step == step:
                accelerator.save_state(str(checkpoint_module.checkpoint_root(output_dir) / f".tmp-step-{at_step}"))
                die()  # the model and optimizer files are on disk, the state file and the rename are not
            return original_save(accelerator, output_dir, at_step, *args, **kwargs)

        train_module.save_checkpoint = save_then_maybe_die
    train_module.train(cfg)
