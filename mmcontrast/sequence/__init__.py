"""Sequence-level pretext tasks beyond pairs: contrastive predictive coding over the sentences of a document
(encoder ``cpc``, view ``sentence_windows``, evaluator ``future_prediction``)."""

from .cpc import CPCEncoder, cpc_loss, document_windows

__all__ = ["CPCEncoder", "cpc_loss", "document_windows"]
