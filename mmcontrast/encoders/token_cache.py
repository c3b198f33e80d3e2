"""Pre-tokenisation cache for text: each distinct text is tokenised once and its token ids reused.

SimCSE's two views are the same sentence, supervised pairs repeat premises, evaluation re-encodes the same
sentences every time, and every epoch after the first sees only known texts. ``TokenCache`` keeps the truncated,
unpadded ids of each text it has seen (int32, ~4 bytes a token) and builds a padded batch from them, exactly as the
tokenizer's own ``tokenizer(texts, padding=True, truncation=True, max_length=..., return_tensors="pt")`` would
(same keys, dtypes, padding side and pad values; ``tests/test_length_grouping.py`` compares them). Once
``max_entries`` texts are cached, further new texts are tokenised per call (each distinct text of a call once).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch


class TokenCache:
    """texts -> padded ``{input_ids, token_type_ids?, attention_mask}`` (N, L) int64, tokenising only unseen texts.

    Args:
        tokenizer: a Hugging Face tokenizer.
        max_length: truncation length in tokens.
        max_entries: most distinct texts kept (0: keep none, tokenise every call's distinct texts).
    """

    def __init__(self, tokenizer: Any, max_length: int, max_entries: int = 200_000) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_entries = max_entries
        self.entries: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self.tokenized = 0  # texts sent to the tokenizer so far (a cache miss each)

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=False,
                                 return_attention_mask=False)
        self.tokenized += len(texts)
        types = encoded.get("token_type_ids")
        return [(np.asarray(ids, dtype=np.int32), np.asarray(types[i], dtype=np.int32) if types is not None else None)
                for i, ids in enumerate(encoded["input_ids"])]

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        texts = list(texts)
        found = {t: self.entries[t] for t in dict.fromkeys(texts) if t in self.entries}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            new = dict(zip(missing, self._encode(missing)))
            room = self.max_entries - len(self.entries)
            for text in missing[: max(room, 0)]:
                self.entries[text] = new[text]
            found.update(new)
        return self._pad([found[t] for t in texts])

    def _pad(self, rows: list[tuple[np.ndarray, np.ndarray | None]]) -> dict[str, torch.Tensor]:
        n = len(rows)
        length = max((len(ids) for ids, _ in rows), default=0)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        input_ids = np.full((n, length), pad_id, dtype=np.int64)
        attention = np.zeros((n, length), dtype=np.int64)
        with_types = n > 0 and rows[0][1] is not None
        types = np.full((n, length), getattr(self.tokenizer, "pad_token_type_id", 0), dtype=np.int64)
        for i, (ids, type_ids) in enumerate(rows):
            span = slice(length - len(ids), length) if left else slice(0, len(ids))
            input_ids[i, span] = ids
            attention[i, span] = 1
            if with_types and type_ids is not None:
                types[i, span] = type_ids
        out = {"input_ids": torch.from_numpy(input_ids)}
        if with_types:
            out["token_type_ids"] = torch.from_numpy(types)
        out["attention_mask"] = torch.from_numpy(attention)
        return out
