"""Encoders (text and vision towers), heads and target branches. Registries: ``ENCODERS``, ``HEADS``,
``TILE_HEADS``, ``TARGETS``."""

from ..registry import Registry
from .cpc import CPCEncoder
from .dual_encoder import DualEncoderModel
from .encoder_registry import ENCODERS
from .heads import DINOHead, MLPHead
from .model import ContrastiveModel
from .tile_head import TileHead
from .target import MomentumTarget, StopGradientTarget, Target
from .text import TextEncoder
from .two_tower import TwoTowerModel
from .vision import VisionEncoder
from .words import WordVectors

ENCODERS.register("text")(TextEncoder)
ENCODERS.register("vision")(VisionEncoder)
ENCODERS.register("dual_encoder")(DualEncoderModel)  # a whole image-text model (towers + projections)
ENCODERS.register("word_embeddings")(WordVectors)  # one word2vec table (skip-gram: two towers)
ENCODERS.register("cpc")(CPCEncoder)  # sentence encoder + GRU context + step predictors

HEADS: Registry[type] = Registry("head")
HEADS.register("mlp")(MLPHead)
HEADS.register("dino")(DINOHead)

TILE_HEADS: Registry[type] = Registry("tile head")
TILE_HEADS.register("concat")(TileHead)  # PIRL's g: per-tile projections, concatenated, projected

TARGETS: Registry[type[Target]] = Registry("target")
TARGETS.register("momentum")(MomentumTarget)
TARGETS.register("stop_gradient")(StopGradientTarget)

__all__ = [
    "ENCODERS", "HEADS", "TILE_HEADS", "TARGETS", "ContrastiveModel", "TextEncoder", "VisionEncoder", "MLPHead", "DINOHead", "TileHead", "Target",
    "MomentumTarget", "StopGradientTarget", "TwoTowerModel", "DualEncoderModel",
    "CPCEncoder",
]
