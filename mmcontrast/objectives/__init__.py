"""The shared objective layer: losses over role-keyed embeddings. One registry: ``OBJECTIVES``.

Each objective is a pure function (``info_nce``, ``nt_xent``, ``supcon``, ``batch_hard_triplet``,
``pairwise_contrastive``, ``sigmoid_loss``, ``byol_loss``, ``negative_cosine``, ``barlow_twins``, ``vicreg``, ``sinkhorn``, ``dino_loss``) and a
module that reads an ``EmbeddingBatch``. Metric-learning losses: ``nce``, ``n_pair``, ``lifted_structured``,
``circle``, ``soft_nearest_neighbour``, ``multi_similarity``, ``align_uniform``. Embeddings are compared through a
kind of ``DISTANCES`` (cosine, dot, euclidean, squared_euclidean, manhattan).

Two bases share the common parts: ``SoftmaxObjective`` (temperature, normalisation, similarity kind and the
candidate pool of the softmax/NCE objectives) and ``PairLoss`` (the pair and margin losses: its ``forward`` prepares
anchors, pool, distance or similarity matrix and mined pairs or triplets; a subclass computes the loss).
"""

from ..registry import Registry
from .align_uniform import AlignUniform, align_uniform
from .base import Objective
from .circle import Circle, circle
from .dino import DINO, dino_loss
from .distances import DISTANCES, DistanceKind, get_distance
from .clip import CLIPLoss
from .info_nce import InfoNCE, NTXent, SoftmaxObjective, info_nce, nt_xent
from .lifted import LiftedStructured, lifted_structured
from .multi_similarity import MultiSimilarity, multi_similarity
from .n_pair import NPair, n_pair
from .nce import NCE, nce
from .pair_loss import PairInputs, PairLoss
from .negative_sampling import NegativeSampling
from .negative_free import BYOL, BarlowTwins, SimSiam, VICReg, barlow_twins, byol_loss, negative_cosine, vicreg
from .siglip import SigLIP, sigmoid_loss
from .pairwise import PairwiseContrastive, pairwise_contrastive
from .soft_nn import SoftNearestNeighbour, soft_nearest_neighbour
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
OBJECTIVES.register("dino")(DINO)
OBJECTIVES.register("nce")(NCE)
OBJECTIVES.register("n_pair")(NPair)
OBJECTIVES.register("lifted_structured")(LiftedStructured)
OBJECTIVES.register("circle")(Circle)
OBJECTIVES.register("soft_nearest_neighbour")(SoftNearestNeighbour)
OBJECTIVES.register("multi_similarity")(MultiSimilarity)
OBJECTIVES.register("align_uniform")(AlignUniform)
OBJECTIVES.register("clip")(CLIPLoss)
OBJECTIVES.register("siglip")(SigLIP)
OBJECTIVES.register("negative_sampling")(NegativeSampling)

__all__ = [
    "OBJECTIVES", "Objective", "SoftmaxObjective", "PairLoss", "PairInputs", "InfoNCE", "NTXent", "SupCon",
    "BatchHardTriplet", "PairwiseContrastive", "BYOL", "SimSiam", "BarlowTwins", "VICReg", "SwAV", "info_nce",
    "nt_xent", "supcon",
    "batch_hard_triplet", "pairwise_contrastive", "byol_loss", "negative_cosine", "barlow_twins", "vicreg",
    "sinkhorn", "DINO", "dino_loss", "CLIPLoss", "SigLIP", "sigmoid_loss",
    "DISTANCES", "DistanceKind", "get_distance", "NCE", "NPair", "LiftedStructured", "Circle",
    "SoftNearestNeighbour", "MultiSimilarity", "AlignUniform", "nce", "n_pair", "lifted_structured", "circle",
    "soft_nearest_neighbour", "multi_similarity", "align_uniform", "NegativeSampling",
]
