"""Sentence-level pretext tasks on documents, and the helpers the document views share.

``next_sentence``: contrastive next/neighbour sentence prediction, the "quick thoughts" objective of
Logeswaran & Lee 2018 ("An efficient framework for learning sentence representations"): a sentence and a
sentence near it in the same document are a positive pair, every other sentence of the batch is a negative
(in-batch InfoNCE; one shared encoder instead of quick thoughts' two).

Document views read a column holding each row's sentence list (``documents`` rows: ``sentences``) and draw
positions inside it with their own seeded ``torch.Generator`` (checkpointed with the run).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..citations import QUICK_THOUGHTS
from ..data.errors import DataError, check_nonempty_strings
from .base import INDICES, Items, View, ViewBatch, column


def randint(high: int, generator: torch.Generator) -> int:
    """A uniform integer in [0, high) from ``generator``."""
    return int(torch.randint(high, (1,), generator=generator).item())


def row_name(batch: dict[str, Any], i: int) -> str:
    """How errors name row ``i`` of a batch: its dataset row (``index``), document id and file line if known."""
    parts = []
    for key, label in (("index", "row"), ("document", "document"), ("line", "line")):
        values = batch.get(key)
        if values is not None and i < len(values):
            value = values[i]
            parts.append(f"{label} {int(value) if isinstance(value, torch.Tensor) else value}")
    return ", ".join(parts) or f"batch item {i}"


def batch_sentences(batch: dict[str, Any], name: str, view: str, min_sentences: int = 1) -> list[list[str]]:
    """The B sentence lists of ``batch[name]``, each a list of >= ``min_sentences`` non-empty strings, or a
    ``DataError`` naming the row."""
    lists = column(batch, name, view)
    out: list[list[str]] = []
    for i, sentences in enumerate(lists):
        if isinstance(sentences, str) or not isinstance(sentences, Sequence):
            raise DataError(f"view '{view}': {row_name(batch, i)}: column '{name}' must be a list of sentences, "
                            f"got {type(sentences).__name__} (use the 'documents' dataset)")
        if len(sentences) < min_sentences:
            raise DataError(f"view '{view}': {row_name(batch, i)} has {len(sentences)} sentence(s), this view "
                            f"needs at least {min_sentences} (set data.train.min_sentences: {min_sentences})")
        check_nonempty_strings(sentences, lambda position: f"view '{view}': {row_name(batch, i)}: sentence {position}")
        out.append(list(sentences))
    return out


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def by_role(lists: list[list[str]]) -> list[Items]:
    """K lists of B texts as ``ViewBatch.negatives``."""
    return [*lists]


class NextSentence(View):
    """Contrastive next-sentence prediction: ViewBatch(query = sentence ``s_i`` (B texts), positive =
    ``s_{i+o}`` of the same document (B texts), negatives = K lists of B texts or None, indices).

    Per row, the anchor position ``i`` is drawn uniformly among the positions that have at least one allowed
    neighbour (and, with hard negatives, at least one sentence outside the window), then the offset ``o``
    uniformly among the allowed ones: ``1..window`` (the next sentence, or one of the ``window`` sentences
    after it), plus ``-window..-1`` with ``include_previous``. The positives of the other rows (sentences of
    other documents) are the negatives of in-batch InfoNCE. ``num_hard_negatives`` K adds sentences of the SAME
    document farther than ``window`` from the anchor (on either side) as hard negatives, ``negatives[k][i]``
    for anchor i: they share the topic, so only local coherence tells them from the neighbour (quick thoughts
    gets such negatives from batches of contiguous text). They are drawn without replacement while the
    document has enough, then with replacement.

    Args:
        column: the sentence-list column (``documents`` rows: ``sentences``).
        window: how far after (and before) the anchor the positive may lie (1: exactly the next sentence).
        include_previous: also take preceding sentences as positives.
        num_hard_negatives: K same-document hard negatives per anchor (rows need ``window + 2`` sentences).
        seed: injected by the trainer; seeds ``self.generator``.
    """

    card_summary = (
        "Next sentence (quick thoughts, Logeswaran & Lee, 2018): a sentence and a sentence near it in the same "
        "document are positives, the other sentences of the batch negatives"
    )
    citation = QUICK_THOUGHTS
    tags = ("quick-thoughts",)

    generator: torch.Generator

    gives = frozenset({INDICES})

    def __init__(self, column: str = "sentences", window: int = 1, include_previous: bool = False,
                 num_hard_negatives: int = 0, seed: int = 0) -> None:
        if window < 1:
            raise ValueError(f"next_sentence: window must be >= 1, got {window}")
        if num_hard_negatives < 0:
            raise ValueError(f"next_sentence: num_hard_negatives must be >= 0, got {num_hard_negatives}")
        self.column = column
        self.window = window
        self.k = num_hard_negatives
        self.offsets = list(range(1, window + 1))
        if include_previous:
            self.offsets = [-o for o in reversed(self.offsets)] + self.offsets
        self.generator = seeded(seed)

    def far(self, i: int, n: int) -> list[int]:
        """Positions of a document of ``n`` sentences farther than ``window`` from ``i``."""
        return [p for p in range(n) if abs(p - i) > self.window]

    def pick(self, n: int) -> tuple[int, int]:
        """(anchor position, positive position) for a document of ``n`` sentences (n >= 2, and n >= window + 2
        with hard negatives)."""
        anchors = [i for i in range(n) if any(0 <= i + o < n for o in self.offsets) and (not self.k or self.far(i, n))]
        i = anchors[randint(len(anchors), self.generator)]
        allowed = [o for o in self.offsets if 0 <= i + o < n]
        return i, i + allowed[randint(len(allowed), self.generator)]

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        queries, positives = [], []
        negatives: list[list[str]] = [[] for _ in range(self.k)]
        need = self.window + 2 if self.k else 2
        for sentences in batch_sentences(batch, self.column, "next_sentence", min_sentences=need):
            i, j = self.pick(len(sentences))
            queries.append(sentences[i])
            positives.append(sentences[j])
            if self.k:
                pool = self.far(i, len(sentences))
                for k in range(self.k):
                    if not pool:
                        pool = self.far(i, len(sentences))
                    negatives[k].append(sentences[pool.pop(randint(len(pool), self.generator))])
        return ViewBatch(query=queries, positive=positives, negatives=by_role(negatives) or None,
                         indices=batch.get("index"))
