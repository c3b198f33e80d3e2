"""Evaluators: ``__call__(model) -> dict[str, float]`` with a ``primary_metric``. One registry: ``EVALUATORS``."""

from ..registry import Registry
from . import factories, image_text_factories
from .future_prediction import future_prediction
from .word_similarity import word_similarity

EVALUATORS: Registry = Registry("evaluator")
EVALUATORS.register("sts")(factories.sts)
EVALUATORS.register("sts_hf")(factories.sts_hf)
EVALUATORS.register("knn")(factories.knn)
EVALUATORS.register("linear_probe")(factories.linear_probe)
EVALUATORS.register("frozen_features")(factories.frozen_features)
EVALUATORS.register("neighbour_grid")(factories.neighbour_grid)
EVALUATORS.register("layer_probe")(factories.layer_probe)
EVALUATORS.register("alignment_uniformity_sts")(factories.alignment_uniformity_sts)
EVALUATORS.register("alignment_uniformity_views")(factories.alignment_uniformity_views)
EVALUATORS.register("retrieval")(factories.retrieval)
EVALUATORS.register("next_sentence")(factories.next_sentence)
EVALUATORS.register("order_recovery")(factories.order_recovery)
EVALUATORS.register("inverse_cloze")(factories.inverse_cloze)
EVALUATORS.register("zero_shot")(image_text_factories.zero_shot)
EVALUATORS.register("image_text_retrieval")(image_text_factories.image_text_retrieval)
EVALUATORS.register("word_similarity")(word_similarity)
EVALUATORS.register("future_prediction")(future_prediction)

__all__ = ["EVALUATORS"]
