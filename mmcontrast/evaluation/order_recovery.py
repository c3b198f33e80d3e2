"""Order recovery: does the embedding prefer a passage's original sentence order over shuffles of it?

The evaluation of the ``sentence_permutation`` task, scored the way that task is trained: an anchor view of
the passage is compared (cosine) with the passage in its original order and with ``num_permutations`` random
non-identity orders of the same sentences (its hard negatives). Evaluation runs without dropout, so the
anchor cannot be the dropout twin of the ``dropout`` training anchor (the original text against itself always
scores 1). It is the input-noise counterpart, the ``delete_words`` training anchor: the passage with each word
deleted with probability ``delete_probability`` (seeded, fixed at construction), every sentence still present
and in its original order. All candidates hold exactly the same words, so only the order of the sentences can
tell the original from its shuffles: an order-blind embedding (bag of words) ties them.

Metrics: ``accuracy`` (primary): fraction of passages whose original order scores strictly above every
permutation (chance: 1 / (P + 1) for random scores; an exactly order-blind embedding, e.g. bag of words, ties
and scores 0); ``pairwise_accuracy``: fraction of (original, permutation) pairs won (chance 0.5);
``margin``: mean of cos(anchor, original) - max_k cos(anchor, permutation k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..views.permutation import delete_words, sample_permutations
from .base import Encoder, Evaluator, encode_unique_texts
from .inputs import DocumentsSection, seeded_rows, section_documents


def passages_of(documents: Sequence[Sequence[str]], n: int, stride: int | None = None) -> list[list[str]]:
    """Passages of ``n`` consecutive sentences of each document starting every ``stride`` sentences (default
    ``n``: non-overlapping); passages that repeat a sentence are left out (a shuffle can equal the original)."""
    out = []
    for sentences in documents:
        for start in range(0, len(sentences) - n + 1, stride or n):
            passage = list(sentences[start : start + n])
            if len(set(passage)) == n:
                out.append(passage)
    return out


class OrderRecoveryEvaluator(Evaluator):
    """Order-recovery accuracy (primary), pairwise accuracy and margin over held-out passages.

    For passage ``p`` (a list of n >= 2 distinct sentences) the anchor (``delete_words`` with
    ``delete_probability``), the original text and P distinct non-identity permutations are fixed at
    construction from ``seed``. Texts are joined with ``separator``.
    """

    primary = "accuracy"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(DocumentsSection):
        """Config keys of evaluator ``order_recovery``: the ``passage_sentences``-sentence passages of ``data``'s
        documents (one every ``stride`` sentences, default non-overlapping). ``max_chars`` keeps passages of at
        most that many characters (so that they fit the encoder's ``max_length``: a truncated shuffle differs in
        content, not only in order); ``max_passages`` then keeps a seeded random subset."""

        passage_sentences: int = 3
        num_permutations: int = 3
        delete_probability: float = 0.2
        stride: int | None = None
        max_passages: int | None = None
        max_chars: int | None = None
        seed: int = 0
        separator: str = " "
        prefix: str = "order_recovery"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The passages of evaluator ``order_recovery`` (filtered by ``max_chars``, subset by ``max_passages``)."""
        s = section
        passages = passages_of(section_documents(s, "order_recovery"),
                               s.passage_sentences, s.stride)
        if s.max_chars is not None:
            passages = [p for p in passages if len(s.separator.join(p)) <= s.max_chars]
            if not passages:
                raise ValueError(f"order_recovery '{s.prefix}': no passage of {s.passage_sentences} sentences "
                                 f"within max_chars={s.max_chars}")
        (passages,) = seeded_rows(s.max_passages, s.seed, passages)
        return dict(passages=passages)

    def __init__(self, passages: list[list[str]], num_permutations: int = 3, delete_probability: float = 0.2,
                 seed: int = 0, separator: str = " ", name: str = "order_recovery", batch_size: int = 128) -> None:
        super().__init__(name, batch_size)
        if not passages:
            raise ValueError(f"{type(self).__name__}: no passages")
        n = len(passages[0])
        if n < 2 or any(len(p) != n for p in passages):
            raise ValueError(f"{type(self).__name__}: passages must all have the same number n >= 2 of sentences")
        if not 0.0 <= delete_probability < 1.0:
            raise ValueError(f"{type(self).__name__}: delete_probability must be in [0, 1), got {delete_probability}")
        if not 1 <= num_permutations <= math.factorial(n) - 1:
            raise ValueError(f"{type(self).__name__}: num_permutations must be in 1..{math.factorial(n) - 1}, "
                             f"got {num_permutations}")
        generator = torch.Generator().manual_seed(seed)
        self.anchors: list[str] = []
        self.originals: list[str] = []
        self.permuted: list[list[str]] = []  # (N, P)
        for passage in passages:
            orders = sample_permutations(passage, num_permutations, generator)
            if orders is None:
                raise ValueError(f"{type(self).__name__}: a passage repeats one sentence; no order changes it")
            self.anchors.append(separator.join(delete_words(passage, delete_probability, generator)))
            self.originals.append(separator.join(passage))
            self.permuted.append([separator.join(passage[i] for i in order) for order in orders])
        self.num_permutations = num_permutations

    def scores(self, model: Encoder) -> tuple[torch.Tensor, torch.Tensor]:
        """Cosine of each anchor with its original (N,) and with its permutations (N, P)."""
        flat = [t for perms in self.permuted for t in perms]
        emb, row_of = encode_unique_texts(model, self.anchors + self.originals + flat, self.batch_size,
                                          "order_recovery passages")
        emb = F.normalize(emb, dim=1)

        def rows(texts: list[str]) -> torch.Tensor:
            return emb[torch.tensor([row_of[t] for t in texts])]

        anchor = rows(self.anchors)  # (N, D)
        original = (anchor * rows(self.originals)).sum(-1)  # (N,)
        permuted = (anchor.unsqueeze(1) * rows(flat).view(len(self.anchors), self.num_permutations, -1)).sum(-1)
        return original, permuted

    def recovered(self, model: Encoder) -> torch.Tensor:
        """(N,) bool: the original order scores strictly above every permutation of passage i."""
        original, permuted = self.scores(model)
        return (original.unsqueeze(1) > permuted).all(dim=1)

    def __call__(self, model: Encoder) -> dict[str, float]:
        original, permuted = self.scores(model)
        wins = original.unsqueeze(1) > permuted  # (N, P)
        self.last_recovered = wins.all(dim=1)  # (N,) bool, per passage, for paired tests across models
        return {
            self.key("accuracy"): float(wins.all(dim=1).float().mean()),
            self.key("pairwise_accuracy"): float(wins.float().mean()),
            self.key("margin"): float((original - permuted.max(dim=1).values).mean()),
        }
