"""Miners: which pairs or triplets of a labelled batch a pair or triplet loss sees. One registry: ``MINERS``.

A config picks one with ``miner: {name: ...}``; it is injected into an objective that takes a ``miner``
(``triplet``, ``pairwise_contrastive``, ``lifted_structured``, ``circle``, ``multi_similarity``) and needs
labels (a view with ``label_column``), both checked at config time.
"""

from ..registry import Registry
from .base import Mined, Miner
from .batch_hard import BatchHardMiner
from .multi_similarity import MultiSimilarityMiner
from .semi_hard import SemiHardMiner

MINERS: Registry[type[Miner]] = Registry("miner")
MINERS.register("batch_hard")(BatchHardMiner)
MINERS.register("semi_hard")(SemiHardMiner)
MINERS.register("multi_similarity")(MultiSimilarityMiner)

__all__ = ["MINERS", "Mined", "Miner", "BatchHardMiner", "SemiHardMiner", "MultiSimilarityMiner"]
