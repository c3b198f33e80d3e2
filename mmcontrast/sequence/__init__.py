"""Sequence-level pretext tasks beyond pairs: contrastive predictive coding over the sentences of a document."""

from .cpc import CPCModel, FuturePredictionEvaluator, cpc_loss, document_windows, train_cpc

__all__ = ["CPCModel", "FuturePredictionEvaluator", "cpc_loss", "document_windows", "train_cpc"]
