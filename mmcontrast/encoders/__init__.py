"""Encoders (text and vision towers) and heads. Registries: ``ENCODERS``, ``HEADS``."""

from ..registry import Registry
from .heads import MLPHead
from .model import ContrastiveModel
from .text import TextEncoder
from .vision import VisionEncoder

ENCODERS: Registry[type] = Registry("encoder")
ENCODERS.register("text")(TextEncoder)
ENCODERS.register("vision")(VisionEncoder)

HEADS: Registry[type] = Registry("head")
HEADS.register("mlp")(MLPHead)

__all__ = ["ENCODERS", "HEADS", "ContrastiveModel", "TextEncoder", "VisionEncoder", "MLPHead"]
