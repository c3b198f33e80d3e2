"""Evaluators: ``__call__(model) -> dict[str, float]`` with a ``primary_metric``. One registry: ``EVALUATORS``,
evaluator name -> class; each class builds itself from its config section with ``from_config(section)`` (the
section's keys are the fields of its ``Section`` dataclass). The ``retrieval`` evaluator is registered by
``mmcontrast.retrieval``, which builds on ``evaluation.base``."""

from ..registry import Registry
from .alignment import STSAlignmentEvaluator, ViewAlignmentEvaluator
from .base import Evaluator
from .cross_modal import CrossModalRetrievalEvaluator
from .frozen import FrozenFeaturesEvaluator
from .future_prediction import FuturePredictionEvaluator
from .knn import KNNEvaluator
from .layer_probe import LayerProbeEvaluator
from .linear_probe import LinearProbeEvaluator
from .neighbours import NeighbourGridEvaluator
from .next_sentence import InverseClozeEvaluator, NextSentenceEvaluator
from .order_recovery import OrderRecoveryEvaluator
from .probe import ProbeSettings
from .sts import HubSTSEvaluator, STSEvaluator
from .word_similarity import WordSimilarityEvaluator
from .zero_shot import ZeroShotEvaluator

EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")
EVALUATORS.register("sts")(STSEvaluator)
EVALUATORS.register("sts_hf")(HubSTSEvaluator)
EVALUATORS.register("knn")(KNNEvaluator)
EVALUATORS.register("linear_probe")(LinearProbeEvaluator)
EVALUATORS.register("frozen_features")(FrozenFeaturesEvaluator)
EVALUATORS.register("neighbour_grid")(NeighbourGridEvaluator)
EVALUATORS.register("layer_probe")(LayerProbeEvaluator)
EVALUATORS.register("alignment_uniformity_sts")(STSAlignmentEvaluator)
EVALUATORS.register("alignment_uniformity_views")(ViewAlignmentEvaluator)
EVALUATORS.register("next_sentence")(NextSentenceEvaluator)
EVALUATORS.register("order_recovery")(OrderRecoveryEvaluator)
EVALUATORS.register("inverse_cloze")(InverseClozeEvaluator)
EVALUATORS.register("zero_shot")(ZeroShotEvaluator)
EVALUATORS.register("image_text_retrieval")(CrossModalRetrievalEvaluator)
EVALUATORS.register("word_similarity")(WordSimilarityEvaluator)
EVALUATORS.register("future_prediction")(FuturePredictionEvaluator)

__all__ = ["EVALUATORS", "Evaluator", "ProbeSettings"]
