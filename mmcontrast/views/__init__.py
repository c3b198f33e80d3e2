"""Views (pretext tasks). One registry: ``VIEWS``."""

from ..registry import Registry
from .base import View, ViewBatch
from .image import TwoViewAugment
from .image_text import ImageCaption
from .inverse_cloze import InverseCloze
from .jigsaw import Jigsaw
from .multicrop import MultiCrop
from .pairs import QueryPassage, TitleBody
from .permutation import SentencePermutation
from .rotation import Rotation
from .sentences import NextSentence
from .text import SimCSESupervised, SimCSEUnsupervised
from .skipgram import SkipGram
from .windows import SentenceWindows

VIEWS: Registry[type] = Registry("view")
VIEWS.register("simcse_unsup")(SimCSEUnsupervised)
VIEWS.register("simcse_sup")(SimCSESupervised)
VIEWS.register("two_view_augment")(TwoViewAugment)
VIEWS.register("multi_crop")(MultiCrop)
VIEWS.register("jigsaw")(Jigsaw)
VIEWS.register("rotation")(Rotation)
VIEWS.register("next_sentence")(NextSentence)
VIEWS.register("sentence_permutation")(SentencePermutation)
VIEWS.register("inverse_cloze")(InverseCloze)
VIEWS.register("title_body")(TitleBody)
VIEWS.register("query_passage")(QueryPassage)
VIEWS.register("image_caption")(ImageCaption)
VIEWS.register("skipgram")(SkipGram)
VIEWS.register("sentence_windows")(SentenceWindows)

__all__ = [
    "VIEWS", "View", "ViewBatch", "SimCSEUnsupervised", "SimCSESupervised", "TwoViewAugment", "MultiCrop",
    "Jigsaw", "Rotation", "NextSentence", "SentencePermutation", "InverseCloze", "TitleBody", "QueryPassage", "ImageCaption", "SkipGram", "SentenceWindows",
]
