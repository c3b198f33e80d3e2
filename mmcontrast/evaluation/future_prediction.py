"""Held-out future prediction, the evaluation of contrastive predictive coding (van den Oord et al. 2018) on
documents: the context of the first T - 1 sentences of a window predicts sentence T, which must rank first among
the last sentences of ``group_size`` windows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..encoders.cpc import document_windows
from .base import Evaluator, encode_unique_texts
from .inputs import DocumentsSection, section_documents


class FuturePredictionEvaluator(Evaluator):
    """Held-out future prediction: the context of the first T - 1 sentences of each window (sentences embedded by
    ``model.encode``), through the step-1 predictor of the model's ``cpc`` encoder (``predict_next``), ranks the
    last sentence of its window among the last sentences of ``group_size`` windows (its own and ``group_size - 1``
    others, fixed seeded groups) by cosine. ``{name}/recall@1`` (primary), ``{name}/mrr``.
    ``per_item`` keeps the reciprocal rank of each window of the latest call.

    ``baseline="last_sentence"`` scores with the embedding of sentence T - 1 instead of the prediction (the
    sentence encoder's own next-sentence similarity, no context model), for comparison.
    """

    primary = "recall@1"

    @dataclass(kw_only=True)
    class Section(DocumentsSection):
        """Config keys of evaluator ``future_prediction``: the non-overlapping windows of ``length`` sentences of
        ``data``'s documents (a dataset component, e.g. the held-out split of ``documents``) in groups of
        ``group_size``; ``max_windows`` keeps the first windows."""

        length: int = 4
        group_size: int = 32
        max_windows: int | None = None
        seed: int = 0
        prefix: str = "future"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The first ``max_windows`` sentence windows of evaluator ``future_prediction``."""
        s = section
        documents = section_documents(s, "future_prediction")
        return dict(windows=document_windows(documents, s.length)[: s.max_windows])

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
        if baseline not in (None, "last_sentence"):
            raise ValueError(f"baseline must be None or 'last_sentence', got {baseline!r}")
        n, t = len(self.windows), len(self.windows[0])
        embeddings, row = encode_unique_texts(model, [s for w in self.windows for s in w], self.batch_size,
                                              f"{self.name} sentences")
        z = embeddings[torch.tensor([row[s] for w in self.windows for s in w])].reshape(n, t, -1)
        if baseline == "last_sentence":
            queries = z[:, -2]
        else:
            cpc = getattr(model, "encoder", model)
            if not hasattr(cpc, "predict_next"):
                raise ValueError(f"{self.name}: the model has no context model to predict with (encoder 'cpc'); "
                                 f"got {type(cpc).__name__}")
            was_training = cpc.training
            cpc.eval()
            try:
                device = next(cpc.context.parameters()).device
                queries = cpc.predict_next(z[:, :-1].to(device)).float().cpu()
            finally:
                cpc.train(was_training)
        targets = F.normalize(z[:, -1], dim=-1)
        queries = F.normalize(queries, dim=-1)
        reciprocal = []
        for group in self.groups:
            idx = torch.tensor(group)
            scores = queries[idx] @ targets[idx].T  # (G, G): row i's target is column i
            rank = (scores > scores.diagonal()[:, None]).sum(1) + 1
            reciprocal.append(1.0 / rank.float())
        rr = torch.cat(reciprocal)
        self.per_item = rr
        return {self.key("recall@1"): float((rr == 1).float().mean()), self.key("mrr"): float(rr.mean()),
                self.key("chance@1"): 1.0 / len(self.groups[0]) if self.groups else math.nan}
