"""Gradient caching (GradCache, Gao et al. 2021): one step with ``train.chunk_size`` gives the loss and gradients of
the full batch without it (tolerance 1e-5, dropout on, fixed seed), for text (SimCSE unsup; supervised with hard
negatives) and vision (SimCLR on a ViT), in 1 process and in 2 DDP processes (gloo).

With dropout on, the reference is the full-batch loss over embeddings computed chunk by chunk WITH the graph kept
(a chunked forward draws its dropout masks in another order than one big forward; gradient caching must replay
exactly the masks of its first pass). With dropout off, the reference is the ordinary one-forward step. See
tests/grad_cache_script.py for both references."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import MINILM, TINY_BERT, shared
from grad_cache_script import case_config, compare_case, make_batch
from helpers import SGD_STEP, accelerate_launch, run_ok, write_config
from mmcontrast.config import ConfigError, load_config
from mmcontrast.training import grad_cache as grad_cache_module
from mmcontrast.training.build import build_learner
from mmcontrast.training.grad_cache import split_rows

SCRIPT = Path(__file__).with_name("grad_cache_script.py")
ATOL = 1e-5
RTOL = 1e-6  # float32 summation order: a token-type embedding gradient sums ~500 terms of size ~3
# (case, dropout, chunk size in rows of the flattened batch: 16 rows for SimCSE/SimCLR at B=8, 24 with negatives)
CASES = [("text_unsup", 0.1, 3), ("text_sup", 0.1, 5), ("text_sup", 0.0, 5), ("vision_vit", 0.1, 3),
         ("vision_vit", 0.0, 3)]


def assert_parity(result: dict) -> None:
    """Same loss, same gradient of every parameter, same buffers after the step (queue, BatchNorm statistics)."""
    assert result["loss"] == pytest.approx(result["ref_loss"], abs=ATOL)
    assert result["grads"].keys() == result["ref_grads"].keys()
    largest = 0.0
    for name, ref in result["ref_grads"].items():
        assert torch.allclose(result["grads"][name], ref, atol=ATOL, rtol=RTOL), name
        largest = max(largest, ref.abs().max().item())
    assert largest > 1e-3  # real gradients, or the equality would mean nothing
    for name, ref in result["ref_buffers"].items():
        got = result["buffers"][name]
        assert (torch.allclose(got, ref, atol=1e-6) if ref.is_floating_point() else torch.equal(got, ref)), name


@pytest.fixture(autouse=True)
def _data():
    shared("wiki")
    shared("nli")


@pytest.mark.parametrize("case,dropout,chunk", CASES, ids=[f"{c}-dropout{d}-chunk{k}" for c, d, k in CASES])
def test_grad_cache_equals_full_batch_one_process(case, dropout, chunk):
    result = compare_case(case, dropout, chunk)
    assert result["reference"] == ("chunked_graph" if dropout else "full")
    assert_parity(result)
    if dropout:  # the replay leaves the global RNG where the reference's forward left it
        assert result["same_rng_after"]


def test_without_rng_replay_dropout_gradients_differ(monkeypatch):
    """The replay of saved RNG states is what makes dropout runs exact: without it the test above fails."""
    monkeypatch.setattr(grad_cache_module.RngState, "restore", lambda self: None)
    result = compare_case("text_unsup", 0.1, 3)
    assert result["loss"] == pytest.approx(result["ref_loss"], abs=ATOL)  # the loss comes from the first pass
    worst = max((result["grads"][k] - v).abs().max().item() for k, v in result["ref_grads"].items())
    assert worst > 1e-3


def test_batch_norm_is_exact_per_chunk_and_running_stats_update_once():
    """BatchNorm in training mode normalises each chunk alone: gradient caching then equals the chunked forward
    with graph (not the one-forward batch), and the replay does not update the running statistics again."""
    result = compare_case("vision_resnet_bn", 0.0, 4)
    assert_parity(result)
    assert any("running_mean" in name for name in result["changed_buffers"])


@pytest.mark.parametrize("case,dropout,chunk", [("vision_moco", 0.0, 3), ("vision_swav", 0.0, 4),
                                                ("text_two_tower", 0.1, 5)])
def test_grad_cache_with_target_queue_multicrop_and_two_towers(case, dropout, chunk):
    """MoCo (momentum keys computed once in the first pass; the queue enqueues once, after the loss), SwAV
    (multi-crop groups chunked too; prototypes are a loss-stage parameter) and two towers (every chunk runs
    both towers)."""
    result = compare_case(case, dropout, chunk)
    assert_parity(result)
    if case == "vision_moco":
        assert any("queue" in name for name in result["changed_buffers"]), result["changed_buffers"]


@pytest.mark.parametrize("case,dropout,chunk", [("image_text_clip", 0.0, 5), ("image_text_clip", 0.1, 3),
                                                ("image_text_siglip", 0.0, 5), ("image_text_siglip", 0.1, 3)])
def test_grad_cache_with_an_image_text_dual_encoder(case, dropout, chunk):
    """CLIP and SigLIP: every chunk runs both towers; the captions the batch repeats are embedded once (the dual
    encoder's row map), and their cached gradient sums over the repeats as in the one-forward step (a learnable
    logit scale and SigLIP's bias are loss-stage parameters)."""
    cfg = case_config(case, dropout)
    torch.manual_seed(cfg.seed)
    learner = build_learner(cfg, num_samples=1797)
    inputs = make_batch(cfg, learner, torch.device("cpu")).inputs
    assert inputs["text_index"].numel() > inputs["text"]["input_ids"].shape[0]  # captions really repeat
    result = compare_case(case, dropout, chunk)
    assert result["reference"] == ("chunked_graph" if dropout else "full")
    assert_parity(result)
    assert any("temperature" in name for name in result["grads"])  # the learnable logit scale


def test_split_rows_balances_chunks_trims_padding_and_keeps_both_towers():
    ids = torch.arange(10 * 6).reshape(10, 6)
    mask = torch.ones(10, 6, dtype=torch.long)
    mask[:5, 3:] = 0  # the first five rows are short
    chunks = split_rows({"input_ids": ids, "attention_mask": mask}, 4)
    assert [len(c.rows) for c in chunks] == [3, 3, 4]  # ceil(10 / 4) = 3 chunks of near-equal size
    assert torch.equal(torch.cat([c.rows for c in chunks]), torch.arange(10))
    assert chunks[0].inputs["input_ids"].shape == (3, 3)  # padding columns of short rows dropped
    assert torch.equal(chunks[0].inputs["input_ids"], ids[:3, :3])
    assert chunks[2].inputs["input_ids"].shape == (4, 6)
    towers = split_rows({"query": {"x": torch.zeros(4, 2)}, "passage": {"x": torch.zeros(8, 2)}}, 3)
    assert len(towers) == 4  # ceil(12 / 3), bounded by the 4 queries
    assert all(c.inputs["query"]["x"].shape[0] == 1 and c.inputs["passage"]["x"].shape[0] == 2 for c in towers)
    assert torch.equal(torch.cat([c.rows for c in towers]).sort().values, torch.arange(12))
    assert towers[1].rows.tolist() == [1, 6, 7]  # query row 1, passage rows 2-3 (after the 4 queries)


def test_train_with_chunk_size_matches_train_without(tmp_path):
    """Through ``train()``: one SGD step (lr 1, so the update is the gradient) with and without caching."""
    from mmcontrast.training import train

    rows = shared("nli", "snli_dev_triplets.tsv.gz")
    base = {
        "data": {"train": {"name": "tsv", "path": str(rows), "limit": 8}, "shuffle": False},
        "view": {"name": "simcse_sup", "negative": "negative"},
        "encoder": {"name": "text", "config": {**TINY_BERT, "hidden_dropout_prob": 0.0,
                                               "attention_probs_dropout_prob": 0.0},
                    "tokenizer": MINILM, "pooling": "mean", "max_length": 24},
        "objective": {"name": "info_nce", "temperature": 0.05, "learnable_temperature": True},
        "train": {**SGD_STEP, "batch_size": 8, "log_with": []},
        "export": {"enabled": False},
    }
    path = write_config(tmp_path, base)
    results = {}
    for chunk in (None, 5, 0):
        size = "null" if chunk is None else chunk
        cfg = load_config(path, [f"output_dir={tmp_path / str(chunk)}", f"train.chunk_size={size}"])
        results[chunk] = train(cfg).learner.state_dict()
    init = load_config(path, [f"output_dir={tmp_path / 'init'}", "train.lr=0.0"])
    initial = train(init).learner.state_dict()
    largest = 0.0
    for key, value in results[None].items():
        assert torch.allclose(results[5][key], value, atol=ATOL, rtol=RTOL), key
        assert torch.equal(results[0][key], value), key  # 0 means off
        largest = max(largest, (value - initial[key]).abs().max().item())
    assert largest > 1e-3


def test_negative_chunk_size_is_a_config_error():
    with pytest.raises(ConfigError, match="train.chunk_size"):
        load_config(None, ["train.chunk_size=-1"])


def assert_two_process_parity(tmp_path: Path, cases: list[tuple[str, float, int]]) -> None:
    """2 DDP processes: each rank's loss and the DDP-averaged gradients with caching equal the reference's
    (whose gradients are averaged by hand)."""
    specs = [f"{case}:{dropout}:{chunk}" for case, dropout, chunk in cases]
    run_ok(accelerate_launch(SCRIPT, str(tmp_path), *specs))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for spec in specs:
        for results in ranks:
            assert_parity(results[spec])
        # DDP averaged: both ranks hold the same gradients; the ranks' losses differ (their own anchors)
        for name, grad in ranks[0][spec]["grads"].items():
            assert torch.allclose(grad, ranks[1][spec]["grads"][name], atol=1e-6), name
        assert ranks[0][spec]["loss"] != ranks[1][spec]["loss"]


def test_grad_cache_equals_full_batch_two_processes(tmp_path):
    """Gathered negatives with dropout and a learnable temperature (a loss-stage parameter that must be reduced
    in the final replay), and gathered hard negatives."""
    assert_two_process_parity(tmp_path, CASES[:2])


@pytest.mark.slow
def test_grad_cache_equals_full_batch_two_processes_for_every_case(tmp_path):
    """The other cases, a MoCo queue (gathered queue keys), two towers and image-text dual encoders (captions
    gathered with gradient)."""
    extra = [("vision_moco", 0.0, 3), ("text_two_tower", 0.1, 5),  # gathered queue keys; two towers under DDP
             ("image_text_clip", 0.1, 3), ("image_text_siglip", 0.0, 5)]  # captions gathered with gradient
    assert_two_process_parity(tmp_path, CASES[2:] + extra)
