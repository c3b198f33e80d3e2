"""Learning on real data (slow): SimCSE from the packaged all-MiniLM-L6-v2 must raise STS-B dev Spearman of
[CLS] embeddings over the starting model."""

from __future__ import annotations

import pytest

from conftest import ROOT, shared
from mmcontrast.config import load_config
from mmcontrast.training import train

pytestmark = pytest.mark.slow
QUIET = ["train.progress_bar=false", "train.log_with=[]", "export.enabled=false"]


def test_supervised_simcse_on_snli_triplets_raises_sts_spearman(tmp_path):
    shared("nli", "snli_dev_triplets.tsv.gz")
    # the first half of the 2,943 triplets (23 steps of 64) keeps the suite short; measured: 0.7964 -> 0.8187 (the
    # whole epoch of the config: 0.8195; the first 768 triplets: 0.8132, too close to the margin)
    cfg = load_config(ROOT / "configs" / "simcse_sup_offline.yaml",
                      [f"output_dir={tmp_path}", "data.train.limit=1472", *QUIET])
    result = train(cfg)
    before, after = result.initial_metrics["sts-dev/spearman"], result.final_metrics["sts-dev/spearman"]
    assert before == pytest.approx(0.7964, abs=2e-3)  # the packaged model with [CLS] pooling
    assert after >= before + 0.015, (before, after)


# Unsupervised SimCSE (120 steps at batch 64, ~5 min on 2 CPU cores) runs as benchmarks/simcse_unsup_learning.py.
