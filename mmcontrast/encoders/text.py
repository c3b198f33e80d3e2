"""Text tower: any Hugging Face ``AutoModel`` plus pooling (SimCSE, Sentence-BERT)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .loading import from_pretrained, load_backbone
from .pooling import POOLINGS, Pooling, pool
from .token_cache import TokenCache


class TextEncoder(nn.Module):
    """Tokenizer + ``AutoModel`` + pooling: texts -> (N, H) embeddings.

    Args:
        model: Hub id, local folder or ``package:<module>/<path>`` with pretrained weights.
        config: instead of ``model``, a transformers config mapping (random init), e.g.
            ``{model_type: bert, hidden_size: 32, num_hidden_layers: 2, ...}``; needs ``tokenizer``.
        tokenizer: tokenizer reference (defaults to ``model``).
        pooling: ``cls`` (pooled [CLS]), ``cls_before_pooler`` or ``mean``.
        max_length: truncation length in tokens (SimCSE: 32).
        config_overrides: transformers config attributes to change, e.g. dropout probabilities.
        token_cache: distinct texts whose token ids are kept and reused (``token_cache.TokenCache``: each text
            is tokenised once, SimCSE's twin views and later epochs reuse it); 0 tokenises every call.
    """

    card_summary = (
        "a `transformers` text backbone with its tokenizer and pooling (CLS or masked mean): texts -> embeddings"
    )

    modality = "text"

    def __init__(
        self,
        model: str | None = None,
        config: dict[str, Any] | None = None,
        tokenizer: str | None = None,
        pooling: Pooling = "cls",
        max_length: int = 32,
        config_overrides: dict[str, Any] | None = None,
        token_cache: int = 200_000,
    ) -> None:
        super().__init__()
        from transformers import AutoTokenizer

        if pooling not in POOLINGS:
            raise ValueError(f"encoder.pooling must be one of {', '.join(POOLINGS)}, got '{pooling}'")
        tokenizer_ref = tokenizer or model
        if tokenizer_ref is None:
            raise ValueError("encoder.tokenizer is required when the text encoder is built from encoder.config")
        self.backbone = load_backbone(model, config, config_overrides)
        self.tokenizer = from_pretrained(AutoTokenizer.from_pretrained, tokenizer_ref,
                                         "encoder.tokenizer" if tokenizer else "encoder.model")
        self.pooling = pooling
        self.max_length = max_length
        if token_cache < 0:
            raise ValueError(f"encoder.token_cache must be >= 0 (0: off), got {token_cache}")
        self.token_cache = TokenCache(self.tokenizer, max_length, token_cache) if token_cache else None
        pooler = getattr(self.backbone, "pooler", None)
        if pooling == "cls" and pooler is None:
            self.pooling = "cls_before_pooler"  # no pooler layer: [CLS] state is the pooled output
        if self.pooling != "cls" and isinstance(pooler, nn.Module):
            # unused by this pooling: frozen (kept for export) so DDP sees no parameter without gradient
            pooler.requires_grad_(False)

    @property
    def embedding_dim(self) -> int:
        return int(self.backbone.config.hidden_size)

    def prepare(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Tokenise a list of N texts -> {input_ids (N, L), attention_mask (N, L), ...} (through the token cache
        when it is on: identical tensors, each distinct text tokenised once)."""
        if self.token_cache is not None:
            return self.token_cache(texts)
        return dict(
            self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokenised inputs -> pooled embeddings (N, H)."""
        out = self.backbone(**inputs)
        pooler_output = getattr(out, "pooler_output", None) if self.pooling == "cls" else None
        return pool(out.last_hidden_state, inputs["attention_mask"], pooler_output, self.pooling)

    def lengths(self, texts: list[str], slice_size: int = 8192) -> list[int]:
        """Token count of each text after truncation: the evaluation-time sort key (batches of texts with similar
        token counts carry less padding than batches sorted by characters: 23% fewer padded tokens on STS-B
        at batch 64). Tokenised ``slice_size`` texts at a time; only the counts are kept."""
        counts: list[int] = []
        for start in range(0, len(texts), slice_size):
            encoded = self.tokenizer(list(texts[start : start + slice_size]), truncation=True,
                                     max_length=self.max_length, return_length=True, return_attention_mask=False,
                                     return_token_type_ids=False)
            counts.extend(int(n) for n in encoded["length"])
        return counts
