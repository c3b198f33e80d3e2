"""Contrastive predictive coding over documents (van den Oord, Li & Vinyals 2018, "Representation Learning with
Contrastive Predictive Coding"; the sentence-level NLP setting of its section 3.3).

A document window of T consecutive sentences is embedded sentence by sentence, ``z_t = g_enc(s_t)`` (B, T, D), by
a sentence encoder (encoder ``text``, e.g. the packaged MiniLM); an autoregressive context ``c_t = g_ar(z_1..z_t)`` (a GRU,
(B, T, H)) summarises the past, and one linear map per step ahead predicts ``z_{t+k} ~ W_k c_t`` for k = 1..K. The
objective is the project's InfoNCE over an ``EmbeddingBatch``: query ``W_k c_t``, positive ``z_{t+k}``; the other
positives of the batch (other positions of the same window and of other documents) are the negatives
(in-batch), averaged over k.

With ``freeze_sentence_encoder`` the sentence encoder is kept fixed (eval mode, no gradient) and only the context
and predictors learn: CPC as a probe on top of a sentence encoder, cheap on a CPU. Otherwise the gradient also
flows into ``g_enc``.

As a ``mmcontrast train`` config: view ``sentence_windows`` (B windows of T sentences of ``documents`` rows,
``ViewBatch.sequence_length = T``), encoder ``cpc`` (``CPCEncoder``: ``forward`` embeds the sentences, the
``Learner`` hands the (B * T, D) embeddings back to ``sequence_batches``), objective ``info_nce`` with in-batch
negatives, evaluator ``future_prediction`` (``mmcontrast.evaluation.future_prediction``: on held-out documents, the
context of the first T - 1 sentences of a window picks sentence T among the targets of ``group_size`` windows).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..batch import EmbeddingBatch
from ..citations import CPC
from ..component_params import check_component
from ..errors import DataError
from .encoder_registry import ENCODERS


def document_windows(documents: Sequence[Sequence[str]], length: int, stride: int | None = None) -> list[list[str]]:
    """Windows of ``length`` consecutive sentences of each document, every ``stride`` (default ``length``:
    non-overlapping) sentences; documents shorter than ``length`` give none. DataError when no window is left."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"cpc: 'length' (sentences per window) must be an integer >= 2, got {length!r}")
    stride = stride or length
    windows = [list(doc[start : start + length]) for doc in documents
               for start in range(0, len(doc) - length + 1, stride)]
    if not windows:
        raise DataError(f"cpc: no document has {length} sentences ('length'); lower it or use longer documents")
    return windows


class CPCEncoder(nn.Module):
    """Encoder ``cpc``: sentence encoder ``g_enc`` + GRU context ``g_ar`` + K step predictors ``W_k``.

    ``forward`` is the sentence encoder's (texts -> (N, D)), so ``encode`` gives sentence embeddings (any text
    evaluator runs on it); ``sequence_batches`` turns the embeddings of B windows of T sentences into the
    training pairs and ``predict_next`` scores the future at evaluation.

    Args:
        sentence_encoder: an encoder component (e.g. ``{name: text, model: ..., pooling: mean}``) or a module with
            ``prepare(texts)``, ``forward(inputs) -> (N, D)`` and ``embedding_dim``.
        hidden_size: H of the GRU context.
        steps: K, the number of future steps predicted.
        freeze_sentence_encoder: keep ``g_enc`` fixed (eval mode, no gradient).
        cache_embeddings: with a frozen sentence encoder, embed each distinct sentence once and keep its embedding
            (CPU, float32; D floats per distinct sentence seen in training and evaluation): ``prepare`` then returns
            ``{"sentence_embeddings": (N, D)}`` and the steps only run the context model.
        num_layers: GRU layers.
    """

    card_summary = (
        "Contrastive predictive coding (van den Oord et al., 2018): a sentence encoder, a GRU context over the "
        "sentences of a window and one linear predictor per step ahead"
    )
    citation = CPC
    tags = ("cpc",)

    modality = "text_sequence"  # not exportable as a transformers / Sentence-Transformers model

    def __init__(self, sentence_encoder: dict[str, Any] | nn.Module, hidden_size: int = 256, steps: int = 2,
                 freeze_sentence_encoder: bool = False, cache_embeddings: bool = False, num_layers: int = 1) -> None:
        super().__init__()
        for key, value, low in (("hidden_size", hidden_size, 1), ("steps", steps, 1), ("num_layers", num_layers, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"cpc: '{key}' must be an integer >= {low}, got {value!r}")
        if isinstance(sentence_encoder, dict):
            check_component(sentence_encoder, "encoder.sentence_encoder", ENCODERS, "encoder 'cpc'", "encoder")
            sentence_encoder = ENCODERS.get(sentence_encoder["name"])(
                **{k: v for k, v in sentence_encoder.items() if k != "name"})
        self.sentence_encoder = sentence_encoder
        dim = self.embedding_dim
        self.context = nn.GRU(dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(hidden_size, dim) for _ in range(steps))
        if cache_embeddings and not freeze_sentence_encoder:
            raise ValueError("cpc: 'cache_embeddings' needs 'freeze_sentence_encoder: true' (a trained sentence encoder "
                             "changes its embeddings)")
        self.freeze_sentence_encoder = freeze_sentence_encoder
        self.cache_embeddings = cache_embeddings
        self._cache: dict[str, torch.Tensor] = {}
        if freeze_sentence_encoder:
            self.sentence_encoder.requires_grad_(False)
            self.sentence_encoder.eval()

    @property
    def embedding_dim(self) -> int:
        return int(self.sentence_encoder.embedding_dim)

    @property
    def steps(self) -> int:
        return len(self.predictors)

    def train(self, mode: bool = True) -> "CPCEncoder":
        super().train(mode)
        if self.freeze_sentence_encoder:
            self.sentence_encoder.eval()  # no dropout on fixed features
        return self

    def prepare(self, texts: list[str], batch_size: int = 128) -> dict[str, torch.Tensor]:
        """N texts -> the sentence encoder's inputs, or (``cache_embeddings``) ``{"sentence_embeddings": (N, D)}``
        with every sentence not seen before embedded now, ``batch_size`` at a time."""
        if not self.cache_embeddings:
            return self.sentence_encoder.prepare(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        device = next(self.context.parameters()).device
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            inputs = {k: v.to(device) for k, v in self.sentence_encoder.prepare(chunk).items()}
            with torch.no_grad():
                self._cache.update(zip(chunk, self.sentence_encoder(inputs).float().cpu()))
        return {"sentence_embeddings": torch.stack([self._cache[t] for t in texts])}

    def lengths(self, texts: list[str]) -> list[int]:
        """The sentence encoder's token counts (evaluation batching), or character counts."""
        lengths = getattr(self.sentence_encoder, "lengths", None)
        return lengths(texts) if lengths is not None else [len(t) for t in texts]

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sentence inputs (or cached embeddings) -> sentence embeddings z (N, D)."""
        if "sentence_embeddings" in inputs:
            return inputs["sentence_embeddings"]
        if self.freeze_sentence_encoder:
            with torch.no_grad():
                return self.sentence_encoder(inputs)
        return self.sentence_encoder(inputs)

    def contexts(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, D) sentence embeddings -> (B, T, H) autoregressive contexts (c_t sees z_1..z_t only)."""
        return self.context(z)[0]

    def predictions(self, z: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """For k = 1..K: (predictions W_k c_t, targets z_{t+k}), each (B * (T - k), D), for t = 1..T-k."""
        c = self.contexts(z)
        out = []
        for k, predictor in enumerate(self.predictors, start=1):
            if k >= z.shape[1]:
                break
            out.append((predictor(c[:, :-k]).reshape(-1, z.shape[-1]), z[:, k:].reshape(-1, z.shape[-1])))
        return out

    def sequence_batches(self, z: torch.Tensor) -> list[EmbeddingBatch]:
        """(B, T, D) -> one ``EmbeddingBatch(query=W_k c_t, positive=z_{t+k})`` per step ahead k; with in-batch
        negatives every other target of the batch (other positions and windows) is a negative."""
        batches = [EmbeddingBatch(query=pred, positive=target) for pred, target in self.predictions(z)]
        if not batches:
            raise ValueError(f"cpc: windows of {z.shape[1]} sentence(s) leave nothing to predict")
        return batches

    def predict_next(self, z: torch.Tensor) -> torch.Tensor:
        """(N, T', D) past sentence embeddings -> (N, D) step-1 prediction of sentence T' + 1 from c_T'."""
        return self.predictors[0](self.contexts(z)[:, -1])


def cpc_loss(model: CPCEncoder, z: torch.Tensor, objective: nn.Module) -> torch.Tensor:
    """Mean over k of ``objective(EmbeddingBatch(query=W_k c_t, positive=z_{t+k}))`` for sentence embeddings
    z (B, T, D): what the ``Learner`` computes for a sequence view."""
    return torch.stack([objective(batch) for batch in model.sequence_batches(z)]).mean()
