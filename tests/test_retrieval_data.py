"""Training rows from BEIR collections (``beir_corpus``, ``beir_pairs``) and the configurable batch sampler."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from conftest import MINILM, ROOT, TINY_BERT, shared
from mmcontrast.config import ConfigError, load_config
from mmcontrast.data import DATASETS, DataError
from mmcontrast.data.beir import body_of, split_sentences
from mmcontrast.data.samplers import build_batch_sampler
from test_retrieval import write_beir

CRANFIELD = ("retrieval_cranfield", "beir")


def cranfield() -> Path:
    return shared(*CRANFIELD)


def test_body_of_cuts_a_leading_title_copy_only() -> None:
    assert body_of("Wing flutter .", "wing flutter . a study of flutter .") == "a study of flutter ."
    assert body_of("Other title", "wing flutter . a study .") == "wing flutter . a study ."
    assert body_of("", "text") == "text"
    assert split_sentences("one . two ! three?  four") == ["one .", "two !", "three?", "four"]


def test_beir_corpus_on_cranfield_strips_titles_and_reports_empty_passages() -> None:
    with pytest.warns(UserWarning, match="2 empty passage"):
        rows = DATASETS.get("beir_corpus")(str(cranfield()))
    assert len(rows) == 1398
    first = rows[0]
    assert first["id"] == "1" and first["title"].startswith("experimental investigation of the aerodynamics")
    assert not first["text"].startswith("experimental investigation")  # the copied title is cut from the body
    assert first["text"].startswith("an experimental study of a wing in a propeller slipstream")
    assert " ".join(first["sentences"]) == first["text"]
    with pytest.warns(UserWarning):
        long = DATASETS.get("beir_corpus")(str(cranfield()), min_sentences=3)
    assert 0 < len(long) < len(rows) and all(len(r["sentences"]) >= 3 for r in long.rows)


def test_beir_corpus_errors_name_the_file_and_line(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "b", [{"_id": "a", "title": "t", "text": ""}], [{"_id": "q", "text": "x"}], [])
    with pytest.raises(ValueError, match=r"corpus.jsonl:1: empty passage text"):
        DATASETS.get("beir_corpus")(str(folder), skip_empty=False)
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        DATASETS.get("beir_corpus")(str(tmp_path / "none"))
    folder = write_beir(tmp_path / "c", [{"_id": "a", "title": "t", "text": "one sentence only"}],
                        [{"_id": "q", "text": "x"}], [])
    with pytest.raises(DataError, match="at least 3 sentence"):
        DATASETS.get("beir_corpus")(str(folder), min_sentences=3)


def test_title_body_pairs_with_bm25_negatives_never_use_the_gold_passage() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = DATASETS.get("beir_pairs")(str(cranfield()), pairs="title_body", num_hard_negatives=2)
    assert len(rows) > 1300  # a few titles share no term with any other passage and are reported
    bodies = {r["positive"] for r in rows.rows}
    for row in rows.rows:
        assert set(row) == {"query", "positive", "negative_1", "negative_2"}
        assert row["negative_1"] != row["positive"] and row["negative_2"] != row["positive"]
        assert row["negative_1"] in bodies and row["negative_1"] != row["negative_2"]
    # BM25 negatives are hard: they share words with the title
    shared_words = sum(bool(set(r["query"].split()) & set(r["negative_1"].split()) - {".", "the", "of", "a"})
                       for r in rows.rows)
    assert shared_words / len(rows) > 0.9


def test_qrels_pairs_follow_the_judgements(tmp_path: Path) -> None:
    corpus = [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(
        ["cats purr softly", "dogs bark loudly", "cats and dogs play", "fish swim", "birds sing at dawn"])]
    folder = write_beir(tmp_path / "b", corpus, [{"_id": "q1", "text": "why do cats purr"},
                                                 {"_id": "q2", "text": "do dogs bark"}],
                        [("q1", "d0", 1), ("q2", "d1", 2), ("q2", "d3", 0)], split="train")
    rows = DATASETS.get("beir_pairs")(str(folder), pairs="qrels", split="train", num_hard_negatives=1)
    assert [(r["query"], r["positive"]) for r in rows.rows] == [("why do cats purr", "cats purr softly"),
                                                               ("do dogs bark", "dogs bark loudly")]
    assert rows[0]["negative_1"] == "cats and dogs play" and rows[1]["negative_1"] == "cats and dogs play"
    with pytest.raises(DataError, match="grade >= 3"):
        DATASETS.get("beir_pairs")(str(folder), pairs="qrels", split="train", min_grade=3)


def test_no_duplicates_batch_sampler_from_config_keeps_texts_apart() -> None:
    rows = [{"query": f"q{i % 5}", "positive": f"p{i}"} for i in range(40)]  # each query text 8 times
    sampler = build_batch_sampler({"name": "no_duplicates", "columns": ["query"]}, rows, 5, True, True, 3)
    batches = list(sampler)
    assert batches and all(len({rows[i]["query"] for i in b}) == len(b) == 5 for b in batches)
    with pytest.raises(KeyError, match="no_duplicates"):
        build_batch_sampler({"name": "no_duplicate"}, rows, 5, True, True, 3)


def test_batch_sampler_config_is_validated(tmp_path: Path) -> None:
    config = ROOT / "configs" / "retrieval" / "title_body_cranfield_offline.yaml"
    with pytest.raises(ConfigError, match=r"data.batch_sampler.name.*did you mean 'no_duplicates'"):
        load_config(config, ["data.batch_sampler={name: no_duplicate}"])
    with pytest.raises(ConfigError, match=r"unknown key 'data.batch_sampler.column'.*did you mean 'columns'"):
        load_config(config, ["data.batch_sampler={name: no_duplicates, column: [query]}"])


@pytest.mark.slow
def test_training_with_the_no_duplicates_sampler_sees_no_duplicate_in_a_batch(tmp_path: Path) -> None:
    """Two passes over rows whose queries repeat: every training batch holds distinct queries."""
    from mmcontrast.training import train
    from mmcontrast.views.pairs import QueryPassage

    rows = tmp_path / "pairs.tsv"
    rows.write_text("query\tpositive\n" + "".join(f"topic {i % 6}\tpassage number {i}\n" for i in range(36)))
    seen: list[list[str]] = []
    original = QueryPassage.__call__

    def spy(self, batch):
        seen.append(list(batch["query"]))
        return original(self, batch)

    cfg = load_config(ROOT / "configs" / "retrieval" / "title_body_cranfield_offline.yaml", [
        f"output_dir={tmp_path / 'run'}", f"data.train={{name: tsv, path: {rows}}}",
        "data.batch_sampler={name: no_duplicates, columns: [query]}",
        "view={name: query_passage}", "evaluators=[]", "export.enabled=false", "train.progress_bar=false",
        "train.log_with=[]", "train.batch_size=6", "train.max_steps=12",
        f"encoder={{name: text, config: {TINY_BERT}, tokenizer: '{MINILM}', pooling: mean, max_length: 16}}",
    ])
    QueryPassage.__call__ = spy  # type: ignore[method-assign]
    try:
        result = train(cfg)
    finally:
        QueryPassage.__call__ = original  # type: ignore[method-assign]
    assert result.steps == 12 and len(seen) == 12
    assert all(len(set(batch)) == len(batch) == 6 for batch in seen)
