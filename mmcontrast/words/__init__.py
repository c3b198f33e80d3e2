"""Word-level contrast: skip-gram with negative sampling (Mikolov et al. 2013) on the objective layer."""

from .skipgram import (NoiseSampler, Vocabulary, WordEmbeddings, negative_sampling_loss, read_word_pairs,
                       skipgram_pairs, train_skipgram, word_similarity_spearman)

__all__ = ["NoiseSampler", "Vocabulary", "WordEmbeddings", "negative_sampling_loss", "read_word_pairs",
           "skipgram_pairs", "train_skipgram", "word_similarity_spearman"]
