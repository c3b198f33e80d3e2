"""Run ``train(cfg)`` for several (config, overrides) scenarios in ONE launch (1 or N processes) and save each
final learner state to ``<output_dir>/params.pt`` (used by ``test_distributed_toolbox.py``: one launch per process
count instead of one per scenario)."""

import json
import sys
from pathlib import Path

import torch

from mmcontrast.config import load_config
from mmcontrast.training import train


def end_training_keeping_the_group(accelerator) -> None:
    """``Accelerator.end_training`` without destroying the process group, which the next scenario reuses."""
    for tracker in accelerator.trackers:
        tracker.finish()


if __name__ == "__main__":
    from accelerate import Accelerator, PartialState

    Accelerator.end_training = end_training_keeping_the_group

    for scenario in json.loads(Path(sys.argv[1]).read_text()):
        cfg = load_config(scenario["config"], scenario["overrides"])
        result = train(cfg)
        if PartialState().is_main_process:
            torch.save({k: v.detach().cpu() for k, v in result.learner.state_dict().items()},
                       Path(cfg.output_dir) / "params.pt")
