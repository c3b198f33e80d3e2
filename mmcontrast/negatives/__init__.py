"""Negatives: where an objective's candidates come from. One registry: ``NEGATIVES``."""

from ..registry import Registry
from .base import Negatives
from .in_batch import InBatchNegatives

NEGATIVES: Registry[type[Negatives]] = Registry("negatives")
NEGATIVES.register("in_batch")(InBatchNegatives)

__all__ = ["NEGATIVES", "Negatives", "InBatchNegatives"]
