"""Negatives: where an objective's candidates come from. One registry: ``NEGATIVES``."""

from ..registry import Registry
from .base import Negatives
from .in_batch import InBatchNegatives
from .memory_bank import MemoryBankNegatives
from .none import NoNegatives
from .queue import QueueNegatives

NEGATIVES: Registry[type[Negatives]] = Registry("negatives")
NEGATIVES.register("in_batch")(InBatchNegatives)
NEGATIVES.register("queue")(QueueNegatives)
NEGATIVES.register("memory_bank")(MemoryBankNegatives)
NEGATIVES.register("none")(NoNegatives)

__all__ = ["NEGATIVES", "Negatives", "InBatchNegatives", "QueueNegatives", "MemoryBankNegatives", "NoNegatives"]
