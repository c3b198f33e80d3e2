"""Contrastive predictive coding over documents (van den Oord, Li & Vinyals 2018, "Representation Learning with
Contrastive Predictive Coding"; the sentence-level NLP setting of its section 3.3).

A document window of T consecutive sentences is embedded sentence by sentence, ``z_t = g_enc(s_t)`` (B, T, D), by
a text ``ContrastiveModel`` (e.g. the packaged MiniLM); an autoregressive context ``c_t = g_ar(z_1..z_t)`` (a GRU,
(B, T, H)) summarises the past, and one linear map per step ahead predicts ``z_{t+k} ~ W_k c_t`` for k = 1..K. The
objective is the project's InfoNCE over an ``EmbeddingBatch``: query ``W_k c_t``, positive ``z_{t+k}``; the other
positives of the batch (other positions of the same window and of other documents) are the negatives
(in-batch), averaged over k.

With ``freeze_encoder`` the sentence encoder is kept fixed (its embeddings are computed once, without a graph) and
only the context and predictors learn: CPC as a probe on top of a sentence encoder, cheap on a CPU. Otherwise the
gradient also flows into ``g_enc``.

Evaluation (``FuturePredictionEvaluator``): on held-out documents, the context of the first T - 1 sentences of a
window must pick sentence T among the targets of ``group_size`` windows (Recall@1, MRR).
"""

from __future__ import annotations

import math
import random
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..batch import EmbeddingBatch
from ..data.errors import DataError
from ..evaluation.base import Evaluator


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


class CPCModel(nn.Module):
    """Sentence encoder ``g_enc`` + GRU context ``g_ar`` + K step predictors.

    Args:
        encoder: a text ``ContrastiveModel`` (``encode`` / ``prepare`` / ``forward``), D = ``embedding_dim``.
        hidden_size: H of the GRU context.
        steps: K, the number of future steps predicted.
        freeze_encoder: keep ``g_enc`` fixed (no gradient).
    """

    def __init__(self, encoder: nn.Module, hidden_size: int = 256, steps: int = 2, freeze_encoder: bool = False,
                 num_layers: int = 1) -> None:
        super().__init__()
        for key, value, low in (("hidden_size", hidden_size, 1), ("steps", steps, 1), ("num_layers", num_layers, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"cpc: '{key}' must be an integer >= {low}, got {value!r}")
        self.encoder = encoder
        dim = encoder.embedding_dim
        self.context = nn.GRU(dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(hidden_size, dim) for _ in range(steps))
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            encoder.requires_grad_(False)
        self._cache: dict[str, torch.Tensor] = {}

    @property
    def steps(self) -> int:
        return len(self.predictors)

    def embed_sentences(self, windows: Sequence[Sequence[str]], batch_size: int = 128) -> torch.Tensor:
        """(B, T, D) sentence embeddings of B windows of T sentences (frozen: cached, no graph)."""
        b, t = len(windows), len(windows[0])
        if any(len(w) != t for w in windows):
            raise ValueError("cpc: every window of a batch must have the same number of sentences")
        flat = [s for w in windows for s in w]
        if self.freeze_encoder:
            missing = [s for s in dict.fromkeys(flat) if s not in self._cache]
            if missing:
                self._cache.update(zip(missing, self.encoder.encode(missing, batch_size=batch_size)))
            return torch.stack([self._cache[s] for s in flat]).reshape(b, t, -1)
        return self.encoder(self.encoder.prepare(flat)).reshape(b, t, -1)

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


def cpc_loss(model: CPCModel, z: torch.Tensor, objective: nn.Module) -> torch.Tensor:
    """Mean over k of ``objective(EmbeddingBatch(query=W_k c_t, positive=z_{t+k}))`` for sentence embeddings
    z (B, T, D); with in-batch negatives every other target of the batch is a negative."""
    losses = [objective(EmbeddingBatch(query=pred, positive=target)) for pred, target in model.predictions(z)]
    if not losses:
        raise ValueError(f"cpc: windows of {z.shape[1]} sentence(s) leave nothing to predict")
    return torch.stack(losses).mean()


def train_cpc(model: CPCModel, windows: Sequence[Sequence[str]], objective: nn.Module, steps: int,
              batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """``steps`` AdamW steps on random batches of ``windows`` (seeded); returns the loss of each step."""
    if batch_size > len(windows):
        raise ValueError(f"cpc: batch_size {batch_size} exceeds the {len(windows)} training windows")
    rng = random.Random(seed)
    params = [p for p in list(model.parameters()) + list(objective.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    if model.freeze_encoder:
        model.encoder.eval()
    losses = []
    for _ in range(steps):
        batch = rng.sample(list(windows), batch_size)
        loss = cpc_loss(model, model.embed_sentences(batch), objective)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


class FuturePredictionEvaluator(Evaluator):
    """Held-out future prediction: the context of the first T - 1 sentences of each window, through the step-1
    predictor, ranks the last sentence of its window among the last sentences of ``group_size`` windows (its own
    and ``group_size - 1`` others, fixed seeded groups) by cosine. ``{name}/recall@1`` (primary), ``{name}/mrr``.
    ``per_item`` keeps the reciprocal rank of each window of the latest call.

    ``baseline="last_sentence"`` scores with the embedding of sentence T - 1 instead of the prediction (the
    sentence encoder's own next-sentence similarity, no context model), for comparison.
    """

    primary = "recall@1"

    def __init__(self, windows: Sequence[Sequence[str]], group_size: int = 32, seed: int = 0,
                 name: str = "future", batch_size: int = 128) -> None:
        super().__init__(name, batch_size)
        if group_size < 2 or group_size > len(windows):
            raise ValueError(f"{name}: 'group_size' must be in [2, {len(windows)}], got {group_size}")
        self.windows = [list(w) for w in windows]
        order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed)).tolist()
        usable = len(order) // group_size * group_size
        self.groups = [order[i : i + group_size] for i in range(0, usable, group_size)]
        self.per_item: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, model: Any, baseline: str | None = None) -> dict[str, float]:
        was_training = model.training
        model.eval()
        try:
            z = torch.cat([model.embed_sentences(self.windows[i : i + self.batch_size], self.batch_size)
                           for i in range(0, len(self.windows), self.batch_size)]).float()
            if baseline == "last_sentence":
                queries = z[:, -2]
            elif baseline is None:
                queries = model.predictors[0](model.contexts(z[:, :-1])[:, -1])
            else:
                raise ValueError(f"baseline must be None or 'last_sentence', got {baseline!r}")
            targets = F.normalize(z[:, -1], dim=-1)
            queries = F.normalize(queries, dim=-1)
            reciprocal = []
            for group in self.groups:
                idx = torch.tensor(group)
                scores = queries[idx] @ targets[idx].T  # (G, G): row i's target is column i
                rank = (scores > scores.diagonal()[:, None]).sum(1) + 1
                reciprocal.append(1.0 / rank.float())
            rr = torch.cat(reciprocal)
        finally:
            model.train(was_training)
        self.per_item = rr
        return {self.key("recall@1"): float((rr == 1).float().mean()), self.key("mrr"): float(rr.mean()),
                self.key("chance@1"): 1.0 / len(self.groups[0]) if self.groups else math.nan}
