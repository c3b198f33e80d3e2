"""Dense retrieval towers: prompts per role on a shared tower, separate query and passage towers (DPR), their
training layout and their export (one Sentence-Transformers folder per tower, prompts carried over)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import MINILM, TINY_BERT, shared
from helpers import write_config

from mmcontrast.config import ConfigError, load_config
from mmcontrast.encoders import ContrastiveModel, TextEncoder, TwoTowerModel
from mmcontrast.training import train
from mmcontrast.training.build import build_model
from mmcontrast.training.learner import flatten_views, split_embeddings
from mmcontrast.views import ViewBatch

NO_DROPOUT = {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def tower(seed: int, prompts: dict | None = None) -> ContrastiveModel:
    torch.manual_seed(seed)
    return ContrastiveModel(TextEncoder(config=NO_DROPOUT, tokenizer=MINILM, pooling="mean"), prompts=prompts)


def test_prompts_prefix_each_role_in_training_and_encoding():
    model = tower(0, {"query": "query: ", "passage": "passage: "})
    views = ViewBatch(query=["what is a cat"], positive=["a cat is an animal"], negatives=[["a car"]])
    step = flatten_views(model, views)
    inputs, layout = step.inputs, step.layout
    texts = model.encoder.tokenizer.batch_decode(inputs["input_ids"], skip_special_tokens=True)
    assert texts[0].startswith("query :") and texts[1].startswith("passage :") and texts[2].startswith("passage :")
    assert torch.allclose(model.encode(["what is a cat"], role="query"), model.encode(["query: what is a cat"]))


def test_two_towers_route_queries_and_passages_to_their_own_weights():
    model = TwoTowerModel(tower(0), tower(1))
    views = ViewBatch(query=["q1", "q2"], positive=["p1", "p2"], negatives=[["n1", "n2"]])
    step = flatten_views(model, views)
    inputs, layout = step.inputs, step.layout
    model.eval()
    with torch.no_grad():
        query, positive, negatives = split_embeddings(model(inputs), layout)
    assert torch.allclose(query, model.query.encode(["q1", "q2"]), atol=1e-5)
    assert torch.allclose(positive, model.passage.encode(["p1", "p2"]), atol=1e-5)
    assert torch.allclose(negatives[:, 0], model.passage.encode(["n1", "n2"]), atol=1e-5)
    assert not torch.allclose(model.encode(["p1"], role="query"), model.encode(["p1"], role="passage"))


def test_towers_of_different_sizes_are_an_error():
    small = ContrastiveModel(TextEncoder(config={**TINY_BERT, "hidden_size": 16, "intermediate_size": 32},
                                         tokenizer=MINILM, pooling="mean"))
    with pytest.raises(ValueError, match="same size"):
        TwoTowerModel(tower(0), small)


def config(tmp_path: Path, **extra) -> Path:
    return write_config(tmp_path / "cfg.yaml", {
        "name": "dpr-test",
        "output_dir": str(tmp_path / "run"),
        "data": {"train": {"name": "tsv", "path": str(shared("nli", "snli_dev_triplets.tsv.gz")), "limit": 32}},
        "view": {"name": "simcse_sup"},
        "encoder": {"name": "text", "config": NO_DROPOUT, "tokenizer": MINILM, "pooling": "mean"},
        "objective": {"name": "info_nce", "temperature": 0.05},
        "train": {"max_steps": 2, "batch_size": 8, "lr": 1e-3, "eval_at_start": False, "progress_bar": False},
        **extra,
    })


def test_separate_towers_train_and_export_one_sentence_transformers_folder_each(tmp_path):
    from sentence_transformers import SentenceTransformer

    passage = {"name": "text", "config": NO_DROPOUT, "tokenizer": MINILM, "pooling": "mean"}
    cfg = load_config(config(tmp_path, passage_encoder=passage, prompts={"query": "query: "}))
    result = train(cfg)
    model = result.model
    assert isinstance(model, TwoTowerModel)
    final = result.export_path
    texts = ["a man plays guitar", "the sky is blue"]
    for role in ("query", "passage"):
        st = SentenceTransformer(str(final / role), device="cpu")
        ours = model.encode(texts, role=role)
        theirs = torch.from_numpy(st.encode(texts, prompt_name="query" if role == "query" else None))
        assert (ours - theirs).abs().max().item() < 1e-5, role
    card = (final / "README.md").read_text()
    assert "/query" in card and "/passage" in card and "prompt" in card.lower()
    assert "`query`: `'query: '`" in card  # the prefix itself is documented, not just the word


def test_shared_tower_with_prompts_exports_one_folder_whose_prompts_sentence_transformers_applies(tmp_path):
    from sentence_transformers import SentenceTransformer

    prompts = {"query": "query: ", "passage": "passage: "}
    result = train(load_config(config(tmp_path, prompts=prompts)))
    final = result.export_path
    assert not (final / "query").exists() and (final / "modules.json").is_file()  # one folder
    st = SentenceTransformer(str(final), device="cpu")
    assert {role: st.prompts[role] for role in prompts} == prompts
    texts = ["a man plays guitar", "the sky is blue"]
    for role in prompts:
        theirs = torch.from_numpy(st.encode(texts, prompt_name=role))
        assert (result.model.encode(texts, role=role) - theirs).abs().max().item() < 1e-5, role
    assert not torch.allclose(result.model.encode(texts, role="query"), result.model.encode(texts, role="passage"))
    card = (final / "README.md").read_text()
    assert "`query`: `'query: '`" in card and "`passage`: `'passage: '`" in card and 'prompt_name="query"' in card


def test_passage_head_without_passage_encoder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="passage_head needs passage_encoder"):
        load_config(config(tmp_path, passage_head={"name": "mlp"}))
    with pytest.raises(ConfigError, match="unknown role"):
        load_config(config(tmp_path, prompts={"question": "q: "}))


def test_shared_tower_is_still_one_model(tmp_path):
    model = build_model(load_config(config(tmp_path)))
    assert isinstance(model, ContrastiveModel)
    # one set of weights serves both roles: without prompts a text embeds the same as a query and as a passage
    texts = ["a man plays guitar", "the sky is blue"]
    assert torch.equal(model.encode(texts, role="query"), model.encode(texts, role="passage"))
