"""Training over Accelerate: ``train(cfg)``."""

from .train import TrainResult, train

__all__ = ["train", "TrainResult"]
