"""Length-grouped batching (``data.batch_sampler: {name: length_grouped}``) and the text encoder's token cache,
on the Wikipedia sentences of ../shared/data and the all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from conftest import MINILM, TINY_BERT, shared
from mmcontrast.config import ConfigError, load_config
from mmcontrast.data import build_dataset
from mmcontrast.data.length_grouped import LengthGroupedBatchSampler, row_lengths
from mmcontrast.data.samplers import build_batch_sampler
from mmcontrast.encoders.loading import resolve_model_ref
from mmcontrast.encoders.text import TextEncoder


@pytest.fixture(scope="module")
def wiki_texts() -> list[str]:
    return shared("wiki", "wiki1m_for_simcse.first11914.txt").read_text().splitlines()[:3000]


def padded_fraction(batches: list[list[int]], lengths: np.ndarray) -> float:
    """Share of a padded batch's positions that are padding, over all batches."""
    padded = sum(len(b) * lengths[b].max() for b in batches)
    return 1.0 - sum(lengths[b].sum() for b in batches) / padded


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_index_once_per_epoch_seeded_and_reshuffled(drop_last):
    lengths = np.random.default_rng(0).integers(1, 200, size=1003)
    sampler = LengthGroupedBatchSampler(lengths, 16, megabatch_size=4, drop_last=drop_last, seed=7)
    epoch0 = list(sampler)
    counts = Counter(i for b in epoch0 for i in b)
    assert max(counts.values()) == 1
    assert len(counts) == (1003 // 16) * 16 if drop_last else len(counts) == 1003
    assert len(epoch0) == len(sampler)
    assert all(len(b) == 16 for b in epoch0) if drop_last else sum(len(b) < 16 for b in epoch0) == 1
    assert epoch0 == list(LengthGroupedBatchSampler(lengths, 16, 4, drop_last, seed=7))  # same seed, same plan
    sampler.set_epoch(1)
    assert list(sampler) != epoch0  # a new epoch, a new plan
    again = Counter(i for b in sampler for i in b)  # with drop_last, other rows may sit out this epoch
    assert max(again.values()) == 1 and len(again) == len(counts)


def test_batches_hold_similar_lengths_in_tokens(wiki_texts):
    """Token lengths (the padding that matters) of Wikipedia sentences, truncated at 32 as SimCSE does: grouped
    batches carry a small fraction of the padding of random batches, and batch membership stays random (the
    first batch's rows come from all over the data)."""
    encoder_tokenizer = AutoTokenizer.from_pretrained(resolve_model_ref(MINILM))
    rows = [{"text": t} for t in wiki_texts]
    lengths = np.minimum(row_lengths(rows, tokenizer=encoder_tokenizer), 32)
    grouped = list(LengthGroupedBatchSampler(lengths, 64, megabatch_size=20, drop_last=True, seed=1))
    permutation = np.random.default_rng(1).permutation(len(rows))
    random = [permutation[i : i + 64].tolist() for i in range(0, len(rows) - 63, 64)]
    assert padded_fraction(random, lengths) > 0.2  # the problem is real
    assert padded_fraction(grouped, lengths) < 0.25 * padded_fraction(random, lengths)
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in grouped])
    assert spread < 0.25 * np.mean([lengths[b].max() - lengths[b].min() for b in random])
    assert np.ptp(grouped[0]) > len(rows) / 2  # rows of a batch are not neighbours in the file


def test_config_builds_the_sampler_and_rejects_bad_keys(tmp_path):
    path = shared("wiki", "wiki1m_for_simcse.first11914.txt")
    dataset = build_dataset({"name": "text_lines", "path": str(path)})
    sampler = build_batch_sampler({"name": "length_grouped", "megabatch_size": 8}, dataset, 32, True, True, 0)
    assert isinstance(sampler, LengthGroupedBatchSampler) and len(sampler) == len(dataset) // 32
    with pytest.raises(ConfigError, match="megabatch_size"):
        load_config(None, [f"output_dir={tmp_path}", "data.batch_sampler={name: length_grouped, megabatch: 8}"])


def test_token_cache_gives_the_tokenizer_s_inputs_and_tokenises_each_text_once(wiki_texts):
    cached = TextEncoder(config=TINY_BERT, tokenizer=MINILM, max_length=24)
    plain = TextEncoder(config=TINY_BERT, tokenizer=MINILM, max_length=24, token_cache=0)
    texts = wiki_texts[:40] + wiki_texts[:40] + ["", "a", "x " * 100]  # twins, an empty, a truncated text
    for batch in (texts, texts[::-1], wiki_texts[35:50]):
        got, ref = cached.prepare(batch), plain.prepare(batch)
        assert got.keys() == ref.keys() == {"input_ids", "token_type_ids", "attention_mask"}
        for key in ref:
            assert got[key].dtype == ref[key].dtype and torch.equal(got[key], ref[key]), key
    assert cached.token_cache.tokenized == 43 + 10  # 43 distinct texts, then 10 unseen ones of the last batch


def test_token_cache_keeps_left_padding_and_its_size_bound(wiki_texts):
    cached = TextEncoder(config=TINY_BERT, tokenizer=MINILM, max_length=16, token_cache=5)
    plain = TextEncoder(config=TINY_BERT, tokenizer=MINILM, max_length=16, token_cache=0)
    cached.tokenizer.padding_side = plain.tokenizer.padding_side = "left"
    batch = wiki_texts[:12]
    for _ in range(2):
        got, ref = cached.prepare(batch), plain.prepare(batch)
        assert all(torch.equal(got[k], ref[k]) for k in ref)
    assert len(cached.token_cache.entries) == 5 and cached.token_cache.tokenized == 12 + 7
