"""Views (pretext tasks). One registry: ``VIEWS``."""

from ..registry import Registry
from .base import View, ViewBatch
from .image import TwoViewAugment
from .jigsaw import Jigsaw
from .multicrop import MultiCrop
from .rotation import Rotation
from .text import SimCSESupervised, SimCSEUnsupervised

VIEWS: Registry[type] = Registry("view")
VIEWS.register("simcse_unsup")(SimCSEUnsupervised)
VIEWS.register("simcse_sup")(SimCSESupervised)
VIEWS.register("two_view_augment")(TwoViewAugment)
VIEWS.register("multi_crop")(MultiCrop)
VIEWS.register("jigsaw")(Jigsaw)
VIEWS.register("rotation")(Rotation)

__all__ = [
    "VIEWS", "View", "ViewBatch", "SimCSEUnsupervised", "SimCSESupervised", "TwoViewAugment", "MultiCrop",
    "Jigsaw", "Rotation",
]
