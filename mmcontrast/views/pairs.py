"""Pair views for dense retrieval: title/body weak supervision and DPR query/passage rows with hard negatives
(Karpukhin et al. 2020, "Dense Passage Retrieval for Open-Domain Question Answering")."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..citations import DPR, TITLE_BODY
from ..data.errors import DataError
from .base import INDICES, View, ViewBatch, column
from .sentences import by_role, randint, row_name, seeded


def texts_of(batch: dict[str, Any], name: str, view: str) -> list[str]:
    """``batch[name]`` as B non-empty strings, or a ``DataError`` naming the row and column."""
    values = list(column(batch, name, view))
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"view '{view}': {row_name(batch, i)}: column '{name}' is empty or not a string "
                            f"({value!r})")
    return values


class TitleBody(View):
    """Title/body pairs of a corpus as weak supervision (the "body first selection" pairs of Chang et al.
    2020, "Pre-training Tasks for Embedding-based Large-scale Retrieval"): ViewBatch(query = titles (B texts),
    positive = bodies (B texts), indices); the other bodies of the batch are negatives.

    Args:
        title_column: the query column (``documents`` rows with ``require_title: true``: ``title``).
        body_column: the positive column (``documents`` rows: ``text``, the joined sentences).
    """

    card_summary = (
        "Title/body pairs (Chang et al., 2020): a document's title and its body are positives, the other bodies "
        "of the batch negatives"
    )
    citation = TITLE_BODY
    gives = frozenset({INDICES})

    def __init__(self, title_column: str = "title", body_column: str = "text") -> None:
        self.title_column, self.body_column = title_column, body_column

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        return ViewBatch(
            query=texts_of(batch, self.title_column, "title_body"),
            positive=texts_of(batch, self.body_column, "title_body"),
            indices=batch.get("index"),
        )


class QueryPassage(View):
    """DPR rows: ViewBatch(query = questions (B texts), positive = their passages (B texts), negatives = K lists
    of B texts with ``negatives[k][i]`` anchor i's k-th hard negative, indices). In-batch InfoNCE contrasts each
    question with every positive AND every hard negative of the (gathered) batch, as DPR does.

    Each row's hard negatives come from a list column, or from several text columns (the n-tuple layout
    ``negative_1 .. negative_n`` of sentence-transformers and of ``data.hard_negatives.negative_rows``: e.g.
    ``query_column: anchor, negatives_column: [negative_1, negative_2]``). With ``shuffle_negatives`` K of them are drawn without
    replacement (a new draw every time the row is seen, as DPR samples from its BM25 negatives); otherwise the
    first K are used. A row with fewer than K is an error naming the row, unless ``with_replacement`` draws
    its K from the list with replacement (an empty list stays an error).

    Args:
        query_column, positive_column: text columns.
        negatives_column: list-of-texts column of hard negatives, or a list of text columns (one hard negative
            each), or None (in-batch negatives only).
        num_negatives: K hard negatives per query (used when ``negatives_column`` is set, >= 1).
        shuffle_negatives: draw the K at random (seeded) instead of taking the first K.
        with_replacement: pad short lists by drawing with replacement instead of failing.
        seed: injected by the trainer; seeds ``self.generator``.
    """

    card_summary = (
        "Query/passage rows (DPR, Karpukhin et al., 2020): questions with their passages as positives and "
        "optional hard-negative passages"
    )
    citation = DPR
    tags = ("dense-retrieval",)

    generator: torch.Generator
    gives = frozenset({INDICES})

    def __init__(
        self,
        query_column: str = "query",
        positive_column: str = "positive",
        negatives_column: str | list[str] | None = None,
        num_negatives: int = 1,
        shuffle_negatives: bool = True,
        with_replacement: bool = False,
        seed: int = 0,
    ) -> None:
        if negatives_column is not None and num_negatives < 1:
            raise ValueError(f"query_passage: num_negatives must be >= 1 with a negatives_column, got {num_negatives}")
        self.query_column, self.positive_column = query_column, positive_column
        self.negatives_column = negatives_column
        self.columns_label = (negatives_column if isinstance(negatives_column, str)
                              else ", ".join(negatives_column or []))
        self.k = num_negatives
        self.shuffle_negatives = shuffle_negatives
        self.with_replacement = with_replacement
        self.generator = seeded(seed)

    def _choose(self, pool: list[str], where: str) -> list[str]:
        if len(pool) >= self.k:
            if not self.shuffle_negatives:
                return pool[: self.k]
            picked: list[str] = []
            remaining = list(pool)
            for _ in range(self.k):
                picked.append(remaining.pop(randint(len(remaining), self.generator)))
            return picked
        if not self.with_replacement or not pool:
            raise DataError(f"view 'query_passage': {where} has {len(pool)} hard negative(s) in column "
                            f"'{self.columns_label}', {self.k} are needed (num_negatives); drop the row, lower "
                            f"num_negatives or set with_replacement: true")
        return [pool[randint(len(pool), self.generator)] for _ in range(self.k)]

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        queries = texts_of(batch, self.query_column, "query_passage")
        positives = texts_of(batch, self.positive_column, "query_passage")
        negatives: list[list[str]] | None = None
        if self.negatives_column is not None:
            negatives = [[] for _ in range(self.k)]
            if isinstance(self.negatives_column, str):
                pools = list(column(batch, self.negatives_column, "query_passage"))
            else:  # one text column per hard negative
                by_column = [column(batch, name, "query_passage") for name in self.negatives_column]
                pools = [[values[i] for values in by_column] for i in range(len(queries))]
            for i, pool in enumerate(pools):
                where = row_name(batch, i)
                if isinstance(pool, str) or not isinstance(pool, Sequence):
                    raise DataError(f"view 'query_passage': {where}: column '{self.columns_label}' must be a "
                                    f"list of passages, got {type(pool).__name__}")
                for j, text in enumerate(pool):
                    if not isinstance(text, str) or not text.strip():
                        raise DataError(f"view 'query_passage': {where}: hard negative {j} is empty or not a "
                                        f"string ({text!r})")
                    if text == positives[i]:
                        raise DataError(f"view 'query_passage': {where}: hard negative {j} is the row's positive "
                                        f"passage (a false negative)")
                for k, text in enumerate(self._choose(list(pool), where)):
                    negatives[k].append(text)
        return ViewBatch(query=queries, positive=positives, negatives=by_role(negatives) if negatives else None,
                         indices=batch.get("index"))
