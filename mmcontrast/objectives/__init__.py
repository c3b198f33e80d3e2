"""The shared objective layer: losses over role-keyed embeddings. One registry: ``OBJECTIVES``.

Each objective is a pure function (``info_nce``, ``nt_xent``, ``supcon``, ``batch_hard_triplet``,
``pairwise_contrastive``, ``byol_loss``, ``negative_cosine``, ``barlow_twins``, ``vicreg``, ``sinkhorn``) and a
module that reads an ``EmbeddingBatch``.
"""

from ..registry import Registry
from .base import Objective, Temperature
from .info_nce import InfoNCE, NTXent, info_nce, nt_xent
from .negative_free import BYOL, BarlowTwins, SimSiam, VICReg, barlow_twins, byol_loss, negative_cosine, vicreg
from .pairwise import PairwiseContrastive, pairwise_contrastive
from .supcon import SupCon, supcon
from .swav import SwAV, sinkhorn
from .triplet import BatchHardTriplet, batch_hard_triplet

OBJECTIVES: Registry[type[Objective]] = Registry("objective")
OBJECTIVES.register("info_nce")(InfoNCE)
OBJECTIVES.register("nt_xent")(NTXent)
OBJECTIVES.register("supcon")(SupCon)
OBJECTIVES.register("triplet")(BatchHardTriplet)
OBJECTIVES.register("pairwise_contrastive")(PairwiseContrastive)
OBJECTIVES.register("byol")(BYOL)
OBJECTIVES.register("simsiam")(SimSiam)
OBJECTIVES.register("barlow_twins")(BarlowTwins)
OBJECTIVES.register("vicreg")(VICReg)
OBJECTIVES.register("swav")(SwAV)

__all__ = [
    "OBJECTIVES", "Objective", "Temperature", "InfoNCE", "NTXent", "SupCon", "BatchHardTriplet",
    "PairwiseContrastive", "BYOL", "SimSiam", "BarlowTwins", "VICReg", "SwAV", "info_nce", "nt_xent", "supcon",
    "batch_hard_triplet", "pairwise_contrastive", "byol_loss", "negative_cosine", "barlow_twins", "vicreg",
    "sinkhorn",
]
