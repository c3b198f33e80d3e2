"""Next-sentence retrieval among in-batch candidates: the evaluation of contrastive next-sentence prediction
("quick thoughts", Logeswaran & Lee 2018), measured the way the model is trained.

Held-out (sentence, next sentence) pairs are cut into groups of ``group_size``; within a group each sentence
ranks the group's next sentences by cosine similarity, exactly as an anchor ranks the positives of a batch of
that size in in-batch InfoNCE. Recall@1 is the fraction of sentences whose own next sentence ranks first
(chance: 1 / group_size); MRR the mean reciprocal rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .base import Encoder, Evaluator, check_inputs, encode_unique_texts
from .inputs import DocumentsSection, seeded_rows, section_documents


def next_sentence_pairs(documents: Sequence[Sequence[str]], start: int = 0) -> tuple[list[str], list[str]]:
    """Non-overlapping (sentence, next sentence) pairs of each document from position ``start``: (s0, s1),
    (s2, s3), ... for ``start=0``; (s1, s2), (s3, s4), ... for ``start=1``.

    Pairs of one call do not overlap, so no anchor is another pair's answer; a pair is left out when either of
    its texts already occurs in an earlier pair of the call (repeated boilerplate sentences would otherwise be
    candidates identical to an anchor, or two right answers).
    """
    anchors: list[str] = []
    nexts: list[str] = []
    seen: set[str] = set()
    for sentences in documents:
        for i in range(start, len(sentences) - 1, 2):
            a, b = sentences[i], sentences[i + 1]
            if a == b or a in seen or b in seen:
                continue
            seen.update((a, b))
            anchors.append(a)
            nexts.append(b)
    return anchors, nexts


def inverse_cloze_pairs(documents: Sequence[Sequence[str]], window: int = 2,
                        separator: str = " ") -> tuple[list[str], list[str]]:
    """Held-out inverse-cloze pairs (Lee et al. 2019): each document is cut into non-overlapping blocks of
    ``2 * window + 1`` sentences; the middle sentence is the query, the block without it the passage
    (the ``inverse_cloze`` view with ``keep_probability: 0``). Pairs repeating an earlier text are left out."""
    queries: list[str] = []
    passages: list[str] = []
    seen: set[str] = set()
    size = 2 * window + 1
    for sentences in documents:
        for start in range(0, len(sentences) - size + 1, size):
            block = list(sentences[start : start + size])
            query = block.pop(window)
            passage = separator.join(block)
            if query in seen or passage in seen or query in block:
                continue
            seen.update((query, passage))
            queries.append(query)
            passages.append(passage)
    return queries, passages


class NextSentenceEvaluator(Evaluator):
    """Recall@1 (primary) and MRR of the next sentence among ``group_size`` in-batch candidates.

    Any (anchor, target) pairs work the same way: the ``inverse_cloze`` evaluator passes (sentence, passage
    around it) pairs.

    ``anchors[i]`` is followed by ``nexts[i]`` in its document. Pairs are grouped within their set
    (``pair_sets[i]``, default one set): ``from_config`` puts the pairs starting at even and at odd positions in two
    sets, so that every adjacent pair is scored while no group holds an anchor that is another pair's answer.
    The pairs of a set are shuffled once (``seed``) so that groups mix documents, then cut into groups of
    ``group_size`` (the remainder is left out so that every anchor faces the same number of candidates).
    Returns ``{f"{name}/recall@1", f"{name}/mrr"}`` averaged over all grouped anchors. A candidate scoring exactly
    as high as the right one ranks before it, so a collapsed (constant) embedding scores recall 0, not 1.
    """

    primary = "recall@1"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(DocumentsSection):
        """Config keys of evaluator ``next_sentence``: the (sentence, next sentence) pairs of ``data``'s documents
        (a dataset component, e.g. the held-out split of ``documents``): the pairs starting at even positions,
        and with ``all_pairs`` also those starting at odd positions, grouped apart (each sentence is encoded
        once). ``max_pairs`` keeps a seeded random subset."""

        group_size: int = 64
        all_pairs: bool = True
        max_pairs: int | None = None
        seed: int = 0
        prefix: str = "next_sentence"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The (sentence, next sentence) pairs of evaluator ``next_sentence`` and the set of each pair."""
        s = section
        documents = section_documents(s, "next_sentence")
        anchors: list[str] = []
        nexts: list[str] = []
        sets: list[int] = []
        for start in (0, 1) if s.all_pairs else (0,):
            a, n = next_sentence_pairs(documents, start)
            anchors, nexts, sets = anchors + a, nexts + n, sets + [start] * len(a)
        anchors, nexts, sets = seeded_rows(s.max_pairs, s.seed, anchors, nexts, sets)
        return dict(anchors=anchors, nexts=nexts, pair_sets=sets)

    def __init__(self, anchors: list[str], nexts: list[str], group_size: int = 64, seed: int = 0,
                 name: str = "next_sentence", batch_size: int = 128, pair_sets: list[int] | None = None) -> None:
        super().__init__(name, batch_size)
        anchors = list(check_inputs(anchors, f"{type(self).__name__} anchors", texts_only=True))
        nexts = list(check_inputs(nexts, f"{type(self).__name__} nexts", texts_only=True))
        sets = list(pair_sets) if pair_sets is not None else [0] * len(anchors)
        if not len(anchors) == len(nexts) == len(sets):
            raise ValueError(f"{type(self).__name__}: {len(anchors)} anchors, {len(nexts)} next sentences and "
                             f"{len(sets)} pair sets")
        if group_size < 2:
            raise ValueError(f"{type(self).__name__}: group_size must be >= 2, got {group_size}")
        generator = torch.Generator().manual_seed(seed)
        used: list[int] = []
        for pair_set in sorted(set(sets)):
            members = [i for i, s in enumerate(sets) if s == pair_set]
            order = [members[j] for j in torch.randperm(len(members), generator=generator).tolist()]
            used.extend(order[: len(order) // group_size * group_size])
        if not used:
            raise ValueError(f"{type(self).__name__}: {len(anchors)} pairs are fewer than one group of "
                             f"{group_size}; lower group_size or give more held-out documents")
        self.anchors = [anchors[i] for i in used]
        self.nexts = [nexts[i] for i in used]
        self.group_size = group_size

    @property
    def num_groups(self) -> int:
        return len(self.anchors) // self.group_size

    def ranks(self, model: Encoder) -> torch.Tensor:
        """(N,) float rank of each grouped anchor's own next sentence among its group's candidates (1 = first;
        a tie ranks the right candidate last among the tied), in the evaluator's pair order."""
        emb, row_of = encode_unique_texts(model, self.anchors + self.nexts, self.batch_size, "next_sentence texts")
        emb = F.normalize(emb, dim=1)
        g = self.group_size
        a = emb[torch.tensor([row_of[t] for t in self.anchors])].view(self.num_groups, g, -1)
        n = emb[torch.tensor([row_of[t] for t in self.nexts])].view(self.num_groups, g, -1)
        scores = a @ n.transpose(1, 2)  # (groups, G, G): anchor i of a group against every next sentence
        positive = scores.diagonal(dim1=1, dim2=2).unsqueeze(-1)  # (groups, G, 1)
        return (scores >= positive).sum(-1).float().reshape(-1)  # ties count against the anchor

    def __call__(self, model: Encoder) -> dict[str, float]:
        rank = self.ranks(model)
        self.last_ranks = rank  # (N,) per anchor, for paired tests across models
        return {self.key("recall@1"): float((rank == 1).float().mean()), self.key("mrr"): float((1 / rank).mean())}


class InverseClozeEvaluator(NextSentenceEvaluator):
    """Inverse-cloze Recall@1 (primary) and MRR (Lee et al. 2019): each held-out sentence (the middle of a block
    of ``2 * window + 1``) retrieves the passage around it among ``group_size`` in-batch passages."""

    @dataclass(kw_only=True)
    class Section(DocumentsSection):
        """Config keys of evaluator ``inverse_cloze``: the blocks of ``data``'s documents (a dataset component);
        ``max_pairs`` keeps a seeded random subset."""

        window: int = 2
        group_size: int = 64
        max_pairs: int | None = None
        seed: int = 0
        separator: str = " "
        prefix: str = "inverse_cloze"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:  # type: ignore[override]
        """The (held-out sentence, surrounding passage) pairs of evaluator ``inverse_cloze``."""
        s = section
        queries, passages = inverse_cloze_pairs(
            section_documents(s, "inverse_cloze"), s.window, s.separator)
        queries, passages = seeded_rows(s.max_pairs, s.seed, queries, passages)
        return dict(anchors=queries, nexts=passages)
