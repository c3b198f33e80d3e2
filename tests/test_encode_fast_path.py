"""Evaluation encoding batches texts by TOKEN count (least padding), without gradient, and returns the rows in
input order with the embeddings of one-by-one encoding."""

from __future__ import annotations

import torch

from conftest import MINILM, TINY_BERT
from mmcontrast.encoders import ContrastiveModel
from mmcontrast.encoders.text import TextEncoder

# character length and token count disagree: a long word is few tokens, short words are many
TEXTS = ["a b c d e f g h", "supercalifragilistic", "x y z w v", "internationalisation", "to be or not to be",
         "photosynthesis"]


def test_batches_are_formed_by_token_count_and_rows_come_back_in_input_order():
    torch.manual_seed(0)
    model = ContrastiveModel(TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="mean", max_length=32))
    counts = model.encoder.lengths(TEXTS)
    assert counts == [len(model.encoder.tokenizer(t)["input_ids"]) for t in TEXTS]
    seen: list[tuple[int, bool]] = []
    prepare = model.prepare

    def recording(batch, keep_size=False):
        inputs = prepare(batch)
        seen.append((int(inputs["attention_mask"].numel()), torch.is_inference_mode_enabled()))
        return inputs

    model.prepare = recording  # type: ignore[method-assign]
    out = model.encode(TEXTS, batch_size=2)
    model.prepare = prepare  # type: ignore[method-assign]
    by_tokens = sorted(counts, reverse=True)
    least_padding = sum(2 * max(by_tokens[i : i + 2]) for i in range(0, len(TEXTS), 2))
    by_chars = sorted(range(len(TEXTS)), key=lambda i: -len(TEXTS[i]))
    char_padding = sum(2 * max(counts[j] for j in by_chars[i : i + 2]) for i in range(0, len(TEXTS), 2))
    assert sum(n for n, _ in seen) == least_padding < char_padding
    assert all(inference for _, inference in seen)
    one_by_one = torch.cat([model.encode([t], batch_size=1) for t in TEXTS])
    assert torch.allclose(out, one_by_one, atol=1e-5)
