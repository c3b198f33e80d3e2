"""Views (pretext tasks). One registry: ``VIEWS``."""

from ..registry import Registry
from .base import View, ViewBatch
from .image import TwoViewAugment
from .text import SimCSESupervised, SimCSEUnsupervised

VIEWS: Registry[type] = Registry("view")
VIEWS.register("simcse_unsup")(SimCSEUnsupervised)
VIEWS.register("simcse_sup")(SimCSESupervised)
VIEWS.register("two_view_augment")(TwoViewAugment)

__all__ = ["VIEWS", "View", "ViewBatch", "SimCSEUnsupervised", "SimCSESupervised", "TwoViewAugment"]
