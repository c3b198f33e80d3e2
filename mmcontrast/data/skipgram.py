"""Dataset ``skipgram_pairs``: the (center, context) word pairs of a text file, as rows of words."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..words.skipgram import load_vocabulary, read_sentences, skipgram_pairs


class SkipGramPairs(Dataset):
    """Every (center, context) pair of the vocabulary's text (``skipgram_pairs``: in-vocabulary words at most
    ``window`` positions apart in a sentence, out-of-vocabulary words removed first) as rows
    ``{"center": word, "context": word}``; stored as an (N, 2) id tensor."""

    def __init__(self, vocabulary: dict[str, Any], window: int = 2) -> None:
        self.vocabulary = load_vocabulary(vocabulary)
        self.pairs = skipgram_pairs(self.vocabulary, read_sentences(vocabulary["path"], vocabulary.get("limit")),
                                    window)
        self.column_names = ["center", "context"]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        center, context = self.pairs[index].tolist()
        return {"center": self.vocabulary.words[center], "context": self.vocabulary.words[context]}


def skipgram_pairs_dataset(vocabulary: dict[str, Any], window: int = 2) -> SkipGramPairs:
    """Dataset ``skipgram_pairs``: (center, context) word pairs of ``vocabulary.path`` within ``window``."""
    return SkipGramPairs(vocabulary, window)
