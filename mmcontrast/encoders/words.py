"""Encoder ``word_embeddings``: one word-vector table over a vocabulary (word2vec's input or output vectors)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..citations import WORD2VEC
from ..words.skipgram import load_vocabulary

INITS = ("uniform", "zeros")


class WordVectors(nn.Module):
    """One word-vector table over the vocabulary: words -> (N, D). ``init: uniform`` draws U(-0.5/D, 0.5/D) (word2vec's
    input vectors), ``zeros`` starts at zero (its output vectors). A word outside the vocabulary is an error
    naming it."""

    card_summary = "a word-vector table over a vocabulary (word2vec's input or output vectors, Mikolov et al., 2013)"
    citation = WORD2VEC
    tags = ("word2vec",)

    modality = "words"

    def __init__(self, vocabulary: dict[str, Any], dim: int = 64, init: str = "uniform") -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"word_embeddings: 'init' must be one of {', '.join(INITS)}, got {init!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"word_embeddings: 'dim' must be an integer >= 1, got {dim!r}")
        self.vocabulary = load_vocabulary(vocabulary)
        self.table = nn.Embedding(len(self.vocabulary), dim)
        with torch.no_grad():
            if init == "uniform":
                self.table.weight.uniform_(-0.5 / dim, 0.5 / dim)
            else:
                self.table.weight.zero_()

    @property
    def embedding_dim(self) -> int:
        return self.table.embedding_dim

    def prepare(self, words: list[str]) -> dict[str, torch.Tensor]:
        """N words -> {"word_ids": (N,) long}."""
        index = self.vocabulary.index
        try:
            return {"word_ids": torch.tensor([index[w] for w in words], dtype=torch.long)}
        except KeyError as err:
            raise KeyError(f"word_embeddings: {err.args[0]!r} is not in the vocabulary ({len(index)} words); give the "
                           "word_similarity evaluator the run's 'vocabulary' to leave such pairs out") from None

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.table(inputs["word_ids"])
