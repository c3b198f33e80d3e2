"""Sentence permutation: a passage in its original order against shuffled versions of itself.

The sentence-order signal of BART's sentence permutation (Lewis et al. 2020) and ALBERT's sentence-order
prediction (Lan et al. 2020), made contrastive: the original passage is the positive of its own anchor view
and ``num_permutations`` shuffles of the SAME sentences are its hard negatives, so the only thing that
separates the positive from the hard negatives is the order of the sentences.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from ..citations import ALBERT, BART
from ..data.errors import DataError
from .base import INDICES, View, ViewBatch
from .sentences import batch_sentences, by_role, randint, row_name, seeded

Anchor = Literal["dropout", "delete_words"]
ANCHORS = ("dropout", "delete_words")


def delete_words(sentences: list[str], probability: float, generator: torch.Generator) -> list[str]:
    """Each sentence with every word (whitespace token) deleted with ``probability``, at least one word kept;
    the sentences keep their order. A noisy copy of a passage that still holds all of its sentences in order."""
    out = []
    for sentence in sentences:
        words = sentence.split()
        keep = (torch.rand(len(words), generator=generator) >= probability).tolist()
        if not any(keep):
            keep[randint(len(words), generator)] = True
        out.append(" ".join(w for w, k in zip(words, keep) if k))
    return out


def sample_permutations(
    sentences: list[str], k: int, generator: torch.Generator, max_tries: int = 100
) -> list[list[int]] | None:
    """``k`` orders of ``sentences`` (index lists), each giving a text different from the original order.

    Orders are distinct from each other while distinct ones can be found (at most n! - 1 exist, fewer when
    sentences repeat), then repeat. Returns None when no order changes the text (all sentences identical).
    """
    n = len(sentences)
    original = tuple(sentences)
    found: list[list[int]] = []
    texts: set[tuple[str, ...]] = set()
    for _ in range(k):
        chosen = None
        for _ in range(max_tries):
            order = torch.randperm(n, generator=generator).tolist()
            text = tuple(sentences[i] for i in order)
            if text != original and text not in texts:
                chosen = order
                break
        if chosen is None:
            if not found:
                return None
            chosen = found[randint(len(found), generator)]  # no new distinct order: repeat one
        texts.add(tuple(sentences[i] for i in chosen))
        found.append(chosen)
    return found


class SentencePermutation(View):
    """ViewBatch(query = anchor view of the passage (B texts), positive = the passage in its original order
    (B texts), negatives = ``num_permutations`` lists of B texts: ``negatives[k][i]`` is passage i with its
    sentences shuffled (never the original order, never the original text), indices).

    Per row a passage of ``passage_sentences`` consecutive sentences is drawn at a uniform start position and
    joined with ``separator``. The anchor view (``anchor``):

    - ``dropout``: the original passage again; query and positive go through one forward and differ only by
      their dropout masks (a SimCSE twin), so the loss asks for an embedding in which a noisy copy of the
      passage is closer to it than any reordering of the same sentences.
    - ``delete_words``: the original passage with each word deleted with probability ``delete_probability``
      (input noise instead of dropout noise; sentence order kept). This is the anchor ``order_recovery``
      evaluates with: evaluation runs without dropout, where a twin would be the text itself.

    Why not a passage with a whole sentence left out: two sentences in order (A C of A B C) also occur in
    order in shuffles (A C B, B A C), and a shuffle that starts with the anchor's sentences is then the better
    match, so the original is not the unique answer.

    Other passages of the batch and their permutations are further (in-batch) negatives.

    Args:
        column: the sentence-list column (``documents`` rows: ``sentences``).
        passage_sentences: n, sentences per passage (>= 2; rows need at least n: ``min_sentences: n``). Keep
            passages within the encoder's ``max_length`` or truncation cuts shuffles to different content.
        num_permutations: K hard negatives per passage (<= n! - 1; distinct when the sentences are).
        anchor: ``dropout`` or ``delete_words``.
        delete_probability: word deletion probability of the ``delete_words`` anchor.
        separator: joins sentences into a passage.
        max_chars: draw the passage among those of at most this many characters (about 4 per token for English
            text: a budget that keeps passages within the encoder's ``max_length``); a row with no such passage
            gives its shortest one. None: any passage.
        seed: injected by the trainer; seeds ``self.generator``.
    """

    card_summary = (
        "Sentence permutation (after BART, Lewis et al., 2020, and ALBERT, Lan et al., 2020): a passage in its "
        "original order is the positive of its anchor view, shuffles of its sentences are hard negatives"
    )
    citation = BART + "\n\n" + ALBERT

    generator: torch.Generator

    gives = frozenset({INDICES})

    def __init__(
        self,
        column: str = "sentences",
        passage_sentences: int = 3,
        num_permutations: int = 3,
        anchor: Anchor = "dropout",
        delete_probability: float = 0.2,
        separator: str = " ",
        max_chars: int | None = None,
        seed: int = 0,
    ) -> None:
        if passage_sentences < 2:
            raise ValueError(f"sentence_permutation: passage_sentences must be >= 2, got {passage_sentences}")
        if not 1 <= num_permutations <= math.factorial(passage_sentences) - 1:
            raise ValueError(f"sentence_permutation: num_permutations must be in 1..{math.factorial(passage_sentences) - 1}"
                             f" (n! - 1 orders of {passage_sentences} sentences), got {num_permutations}")
        if anchor not in ANCHORS:
            raise ValueError(f"sentence_permutation: anchor must be one of {', '.join(ANCHORS)}, got '{anchor}'")
        if not 0.0 <= delete_probability < 1.0:
            raise ValueError(f"sentence_permutation: delete_probability must be in [0, 1), got {delete_probability}")
        self.column = column
        self.n = passage_sentences
        self.k = num_permutations
        self.anchor = anchor
        self.delete_probability = delete_probability
        self.separator = separator
        self.max_chars = max_chars
        self.generator = seeded(seed)

    def start(self, sentences: list[str]) -> int:
        """A uniform start position among the passages within ``max_chars`` (or the shortest passage)."""
        starts = range(len(sentences) - self.n + 1)
        if self.max_chars is not None:
            lengths = [len(self.separator.join(sentences[s : s + self.n])) for s in starts]
            fitting = [s for s, length in zip(starts, lengths) if length <= self.max_chars]
            return fitting[randint(len(fitting), self.generator)] if fitting else lengths.index(min(lengths))
        return randint(len(starts), self.generator)

    def __call__(self, batch: dict[str, Any]) -> ViewBatch:
        queries, positives = [], []
        negatives: list[list[str]] = [[] for _ in range(self.k)]
        for i, sentences in enumerate(batch_sentences(batch, self.column, "sentence_permutation", self.n)):
            start = self.start(sentences)
            passage = sentences[start : start + self.n]
            orders = sample_permutations(passage, self.k, self.generator)
            if orders is None:
                raise DataError(f"view 'sentence_permutation': {row_name(batch, i)}: the passage starting at "
                                f"sentence {start} repeats one sentence {self.n} times; no order changes it")
            original = self.separator.join(passage)
            positives.append(original)
            if self.anchor == "dropout":
                queries.append(original)
            else:
                queries.append(self.separator.join(delete_words(passage, self.delete_probability, self.generator)))
            for k, order in enumerate(orders):
                negatives[k].append(self.separator.join(passage[p] for p in order))
        return ViewBatch(query=queries, positive=positives, negatives=by_role(negatives), indices=batch.get("index"))
