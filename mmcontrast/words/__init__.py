"""Word-level contrast: skip-gram with negative sampling (Mikolov et al. 2013) on the objective layer. The pure
pieces live here (``skipgram``); the registered config components in the packages of their axis: dataset
``skipgram_pairs``, view ``skipgram``, encoder ``word_embeddings``, evaluator ``word_similarity``, objective
``negative_sampling``."""

from .skipgram import (NoiseSampler, Vocabulary, load_vocabulary, negative_sampling_loss, read_word_pairs,
                       skipgram_pairs, word_similarity_spearman)

__all__ = ["NoiseSampler", "Vocabulary", "load_vocabulary", "negative_sampling_loss", "read_word_pairs",
           "skipgram_pairs", "word_similarity_spearman"]
