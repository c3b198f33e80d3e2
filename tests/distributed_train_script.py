"""Run ``train(cfg)`` for a config + overrides and save the final state of the learner: model, predictor,
target branch, objective parameters and negatives' buffers (used by the 2-process tests, launched with 1 or 2
processes)."""

import sys
from pathlib import Path

import torch

from mmcontrast.config import load_config
from mmcontrast.training import train

if __name__ == "__main__":
    cfg = load_config(sys.argv[1], sys.argv[2:])
    result = train(cfg)
    from accelerate import PartialState

    if PartialState().is_main_process:
        torch.save({k: v.detach().cpu() for k, v in result.learner.state_dict().items()},
                   Path(cfg.output_dir) / "params.pt")
