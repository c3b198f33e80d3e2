"""The four negative architectures and the negative-free objectives on the shared layer: MoCo queue, memory bank,
momentum target, stop-gradient, SwAV's Sinkhorn, BYOL/SimSiam/Barlow Twins/VICReg against naive references,
the learner's symmetric directions and LARS."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.encoders import (ContrastiveModel, MLPHead, MomentumTarget, StopGradientTarget, TileHead,
                                 VisionEncoder)
from mmcontrast.negatives import MemoryBankNegatives, NoNegatives, QueueNegatives
from mmcontrast.objectives import (BYOL, BarlowTwins, InfoNCE, SimSiam, SwAV, VICReg, barlow_twins, info_nce,
                                   sinkhorn, vicreg)
from mmcontrast.training.lars import LARS
from mmcontrast.batch import RoleLayout, StepBatch
from mmcontrast.training.learner import Learner, flatten_views
from mmcontrast.views import ViewBatch

TINY_RESNET = {"model_type": "resnet", "num_channels": 1, "hidden_sizes": [8, 16], "depths": [1, 1],
               "embedding_size": 8, "layer_type": "basic"}


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


# ------------------------------------------------------------------------------------------------ queue
def test_queue_is_fifo_and_wraps_around_with_any_batch_size():
    queue = QueueNegatives(size=5, embedding_dim=2)
    keys = torch.arange(16, dtype=torch.float32).view(8, 2)
    queue.enqueue(keys[:3])  # rows 0..2
    assert queue.queue[:3].tolist() == keys[:3].tolist() and int(queue.pointer) == 3
    queue.enqueue(keys[3:7])  # a short batch of 4 wraps: rows 3, 4, 0, 1
    assert queue.queue.tolist() == [keys[5].tolist(), keys[6].tolist(), keys[2].tolist(), keys[3].tolist(),
                                    keys[4].tolist()]
    assert int(queue.pointer) == 2
    queue.enqueue(keys)  # more keys than slots: only the newest 5 stay
    assert sorted(map(tuple, queue.queue.tolist())) == sorted(map(tuple, keys[3:].tolist()))


def test_queue_candidates_put_each_anchor_positive_first_and_the_queue_after():
    queue = QueueNegatives(size=4, embedding_dim=3, seed=1)
    keys = unit(2, 3, 0)
    pool, index = queue.candidates(keys)
    assert index.tolist() == [0, 1]
    assert torch.equal(pool[:2], keys) and torch.equal(pool[2:], queue.queue)
    before = pool.clone()
    queue.update([keys])  # enqueued after the loss; the pool already handed out is unchanged
    assert torch.equal(pool, before) and torch.equal(queue.queue[:2], keys)


def test_queue_state_round_trips_through_a_checkpoint():
    queue = QueueNegatives(size=6, embedding_dim=2, seed=3)
    queue.enqueue(unit(4, 2, 1))
    restored = QueueNegatives(size=6, embedding_dim=2, seed=99)
    restored.load_state_dict(queue.state_dict())
    assert torch.equal(restored.queue, queue.queue) and int(restored.pointer) == 4


# ------------------------------------------------------------------------------------------ memory bank
def test_memory_bank_positive_is_the_sample_entry_and_update_is_the_normalised_ema():
    bank = MemoryBankNegatives(num_samples=10, embedding_dim=4, num_negatives=3, momentum=0.5, seed=0)
    indices = torch.tensor([7, 2])
    keys = unit(2, 4, 5)
    pool, index = bank.candidates(keys, indices=indices)
    assert index.tolist() == [0, 1]
    assert torch.equal(pool[:2], bank.memory[indices]) and pool.shape == (5, 4)
    old = bank.memory.clone()
    bank.update([keys], indices)
    expected = F.normalize(0.5 * old[indices] + 0.5 * keys, dim=1)
    assert torch.allclose(bank.memory[indices], expected, atol=1e-6)
    untouched = [i for i in range(10) if i not in (7, 2)]
    assert torch.equal(bank.memory[untouched], old[untouched])


def test_memory_bank_samples_are_reproducible_from_seed_and_step_and_restored_by_a_checkpoint():
    a = MemoryBankNegatives(num_samples=50, embedding_dim=4, num_negatives=8, seed=1)
    b = MemoryBankNegatives(num_samples=50, embedding_dim=4, num_negatives=8, seed=1)
    idx = torch.tensor([0, 1])
    assert torch.equal(a.candidates(unit(2, 4, 0), indices=idx)[0], b.candidates(unit(2, 4, 0), indices=idx)[0])
    first = a.candidates(unit(2, 4, 0), indices=idx)[0]
    a.update([unit(2, 4, 3)], idx)
    assert not torch.equal(a.candidates(unit(2, 4, 0), indices=idx)[0][2:], first[2:])  # new step, new sample
    c = MemoryBankNegatives(num_samples=50, embedding_dim=4, num_negatives=8, seed=1)
    c.load_state_dict(a.state_dict())
    assert torch.equal(c.candidates(unit(2, 4, 0), indices=idx)[0], a.candidates(unit(2, 4, 0), indices=idx)[0])


def test_memory_bank_warm_start_fills_unwritten_entries_before_the_loss_then_mixes_as_usual():
    bank = MemoryBankNegatives(num_samples=10, embedding_dim=4, num_negatives=3, momentum=0.5, seed=0,
                               warm_start=True)
    random_init = bank.memory.clone()
    first = unit(2, 4, 5)
    pool, index = bank.candidates(first, indices=torch.tensor([7, 2]))
    assert torch.allclose(pool[index], first, atol=1e-6)  # the positive is the key, not the random entry
    bank.update([first], torch.tensor([7, 2]))
    assert torch.allclose(bank.memory[[7, 2]], first, atol=1e-6)
    # entry 7 is written: the usual EMA; entry 4 is new: the key itself; everything else keeps its random init
    second = unit(2, 4, 6)
    pool, index = bank.candidates(second, indices=torch.tensor([7, 4]))
    assert torch.allclose(pool[index[0]], first[0], atol=1e-6) and torch.allclose(pool[index[1]], second[1], atol=1e-6)
    bank.update([second], torch.tensor([7, 4]))
    assert torch.allclose(bank.memory[7], F.normalize(0.5 * first[0] + 0.5 * second[0], dim=0), atol=1e-6)
    assert torch.allclose(bank.memory[4], second[1], atol=1e-6)
    untouched = [i for i in range(10) if i not in (7, 2, 4)]
    assert torch.equal(bank.memory[untouched], random_init[untouched])
    assert bank.written.tolist() == [i in (7, 2, 4) for i in range(10)]
    restored = MemoryBankNegatives(num_samples=10, embedding_dim=4, num_negatives=3, seed=0, warm_start=True)
    restored.load_state_dict(bank.state_dict())  # the written flags are checkpointed
    assert torch.equal(restored.written, bank.written) and torch.equal(restored.memory, bank.memory)
    with pytest.raises(ValueError, match="warm_start"):
        MemoryBankNegatives(num_samples=10, embedding_dim=4, warm_start="no")  # a string is not a switch


def test_memory_bank_without_indices_names_the_missing_column():
    bank = MemoryBankNegatives(num_samples=4, embedding_dim=2)
    with pytest.raises(ValueError, match="index"):
        bank.candidates(unit(2, 2, 0))


# ------------------------------------------------------------------------------------------ targets
def tiny_model(head: bool = True) -> ContrastiveModel:
    torch.manual_seed(0)
    encoder = VisionEncoder(config=TINY_RESNET, image_size=8)
    return ContrastiveModel(encoder, MLPHead(16, [16], 8, batch_norm=False) if head else None)


def test_momentum_target_starts_equal_and_follows_the_ema_with_a_cosine_schedule():
    online = tiny_model()
    target = MomentumTarget(online, momentum=0.9, final_momentum=1.0)
    assert target.momentum_at(0, 10) == pytest.approx(0.9) and target.momentum_at(10, 10) == pytest.approx(1.0)
    assert target.momentum_at(5, 10) == pytest.approx(0.95)
    assert all(not p.requires_grad for p in target.parameters())
    before = [p.clone() for p in target.model.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    target.update(online, 5, 10)
    for old, new, source in zip(before, target.model.parameters(), online.parameters()):
        assert torch.allclose(new, 0.95 * old + 0.05 * source, atol=1e-6)


def test_target_keys_carry_no_gradient():
    online = tiny_model()
    images = torch.rand(4, 1, 8, 8)
    inputs = online.prepare(images)
    z = online(inputs)
    assert not StopGradientTarget().keys(inputs, z).requires_grad
    assert not MomentumTarget(online).keys(inputs, z).requires_grad


def test_symmetric_sum_is_the_sum_of_both_directions_and_stop_gradient_blocks_the_key_branch():
    online = tiny_model()
    predictor = MLPHead(8, [16], 8)
    learner = Learner(online, SimSiam(NoNegatives()), predictor, StopGradientTarget(), swapped_direction="sum")
    images = torch.rand(6, 1, 8, 8)
    inputs = online.prepare(images)
    loss, _ = learner(StepBatch(inputs, RoleLayout(3, True, 0)))
    with torch.no_grad():
        z = online(inputs)
        p = predictor(z)
    expected = (-F.cosine_similarity(p[:3], z[3:]).mean()) + (-F.cosine_similarity(p[3:], z[:3]).mean())
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    # with a stop-gradient the gradient reaching z only comes through the predictor branch
    z_grad = torch.autograd.grad(loss, online.head.net[-1].weight)[0]
    assert z_grad.abs().sum() > 0


def test_momentum_target_with_queue_is_moco():
    online = tiny_model()
    queue = QueueNegatives(size=16, embedding_dim=8)
    learner = Learner(online, InfoNCE(temperature=0.2, negatives=queue), target=MomentumTarget(online, 0.99))
    images = torch.rand(8, 1, 8, 8)
    inputs = online.prepare(images)
    learner.train()
    old_queue = queue.queue.clone()
    loss, batch = learner(StepBatch(inputs, RoleLayout(4, True, 0)))
    assert not batch.positive.requires_grad and batch.query.requires_grad
    with torch.no_grad():
        q = F.normalize(batch.query, dim=1)
        k = F.normalize(batch.positive, dim=1)
        naive = info_nce(q, torch.cat([k, old_queue]), torch.arange(4), 0.2)
    assert loss.item() == pytest.approx(naive.item(), abs=1e-5)
    assert torch.allclose(queue.queue[:4], k)  # the keys were enqueued as the loss saw them: unit vectors
    assert torch.allclose(queue.queue[:4].norm(dim=1), torch.ones(4))


def test_pirl_tiled_queries_are_the_tile_head_of_per_tile_trunk_features_contrasted_with_the_image():
    online = tiny_model()
    tile_head = TileHead(input_dim=online.encoder.embedding_dim, num_tiles=4, tile_dim=4, output_dim=8)
    bank = MemoryBankNegatives(num_samples=10, embedding_dim=8, num_negatives=5, momentum=0.5, seed=0)
    # symmetric mean: PIRL's two terms, g(tiles) and f(image) each against the memory entry of the sample
    learner = Learner(online, InfoNCE(temperature=0.2, negatives=bank), swapped_direction="mean", tile_head=tile_head)
    images, tiles = torch.rand(3, 1, 8, 8), torch.rand(3, 4, 1, 4, 4)
    indices = torch.tensor([7, 2, 4])
    views = ViewBatch(query=tiles, positive=images, indices=indices, tiled_query=True)
    step = flatten_views(online, views)
    assert step.layout.batch == 3 and step.layout.query_tiles == 4
    memory = bank.memory.clone()
    learner.train()
    loss, batch = learner(step)
    with torch.no_grad():  # g(per-tile trunk features) against f(image); the bank entries are the positives
        features = online.encoder(online.prepare(tiles.flatten(0, 1), keep_size=True)).view(3, 4, -1)
        query = tile_head(features)
        image = online(online.prepare(images))
    assert torch.allclose(batch.query, query, atol=1e-5) and torch.allclose(batch.positive, image, atol=1e-5)
    assert loss.requires_grad and torch.isfinite(loss)
    grads = torch.autograd.grad(loss, [tile_head.tile_projection.weight, online.head.net[-1].weight])
    assert all(g.abs().sum() > 0 for g in grads)  # both the tile head and the image head learn
    assert not torch.equal(bank.memory[indices], memory[indices])  # the memory of these samples moved
    swapped = ViewBatch(query=tiles[:, [1, 0, 2, 3]], positive=images, tiled_query=True)
    step = flatten_views(online, swapped)
    with torch.no_grad():  # g sees the tiles in their order: a different arrangement is a different query
        other = learner.tiled_queries(step.crop_inputs[0], step.layout)
    assert not torch.allclose(other, query, atol=1e-4)


def test_tiled_queries_reject_a_target_branch_and_hard_negatives():
    online = tiny_model()
    tile_head = TileHead(input_dim=online.encoder.embedding_dim, num_tiles=4, tile_dim=4, output_dim=8)
    tiles, images = torch.rand(2, 4, 1, 4, 4), torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="no hard negatives"):
        flatten_views(online, ViewBatch(query=tiles, positive=images, negatives=[images], tiled_query=True))
    with pytest.raises(ValueError, match="B, n, C, th, tw"):
        flatten_views(online, ViewBatch(query=images, positive=images, tiled_query=True))
    learner = Learner(online, InfoNCE(temperature=0.2, negatives=NoNegatives()), target=MomentumTarget(online, 0.99),
                      tile_head=tile_head)
    step = flatten_views(online, ViewBatch(query=tiles, positive=images, tiled_query=True))
    with pytest.raises(ValueError, match="no target branch"):
        learner(step)
    with pytest.raises(ValueError, match=r"\(B, 4, D\)"):
        tile_head(torch.rand(2, 3, online.encoder.embedding_dim))


# ------------------------------------------------------------------------------------------ negative-free
def test_byol_and_simsiam_reference_values():
    p, z = unit(5, 4, 0), unit(5, 4, 1)
    cos = (p * z).sum(1)
    assert BYOL()(EmbeddingBatch(p, z)).item() == pytest.approx((2 - 2 * cos).mean().item(), abs=1e-6)
    assert SimSiam()(EmbeddingBatch(p, z)).item() == pytest.approx(-cos.mean().item(), abs=1e-6)
    assert BYOL()(EmbeddingBatch(p, p)).item() == pytest.approx(0.0, abs=1e-6)


def test_barlow_twins_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g)
    n, d = z1.shape
    a = [(z1[:, i] - z1[:, i].mean()) / z1[:, i].std(unbiased=False) for i in range(d)]
    b = [(z2[:, j] - z2[:, j].mean()) / z2[:, j].std(unbiased=False) for j in range(d)]
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = float((a[i] * b[j]).sum() / n)
            loss += (1 - c) ** 2 if i == j else 5e-3 * c ** 2
    assert barlow_twins(z1, z2).item() == pytest.approx(loss, rel=1e-5)
    assert BarlowTwins()(EmbeddingBatch(z1, z2)).item() == pytest.approx(loss, rel=1e-5)


def test_vicreg_matches_a_naive_computation():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(12, 4, generator=g) * 0.3, torch.randn(12, 4, generator=g)
    n, d = z1.shape
    inv = sum(float((z1[i, k] - z2[i, k]) ** 2) for i in range(n) for k in range(d)) / (n * d)
    var = 0.0
    cov = 0.0
    for z in (z1, z2):
        for k in range(d):
            var += max(0.0, 1 - math.sqrt(float(z[:, k].var()) + 1e-4)) / d / 2
        c = torch.cov(z.T)
        cov += sum(float(c[i, j]) ** 2 for i in range(d) for j in range(d) if i != j) / d
    expected = 25 * inv + 25 * var + cov
    assert vicreg(z1, z2).item() == pytest.approx(expected, rel=1e-5)
    assert VICReg()(EmbeddingBatch(z1, z2)).item() == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------------------------------------ SwAV
def test_sinkhorn_codes_have_the_equipartition_marginals():
    scores = unit(32, 6, 0) @ unit(8, 6, 1).T  # (B=32, K=8)
    codes = sinkhorn(scores, epsilon=0.05, iterations=500)
    assert torch.allclose(codes.sum(1), torch.ones(32), atol=1e-5)  # each sample: a distribution
    assert torch.allclose(codes.sum(0), torch.full((8,), 32 / 8), atol=1e-3)  # each prototype: B / K
    few = sinkhorn(scores, iterations=3)
    assert torch.allclose(few.sum(1), torch.ones(32), atol=1e-5)


def test_swav_loss_matches_a_naive_swapped_prediction():
    torch.manual_seed(0)
    swav = SwAV(embedding_dim=6, num_prototypes=5, temperature=0.1)
    views = [unit(8, 6, s) for s in range(4)]  # 2 global + 2 local
    batch = EmbeddingBatch(views[0], views[1], crops=torch.stack(views[2:], dim=1))
    c = F.normalize(swav.prototypes.weight, dim=1)
    scores = [(v @ c.T).detach() for v in views]
    total, terms = 0.0, 0
    for i in (0, 1):
        q = sinkhorn(scores[i], 0.05, 3)
        for v in range(4):
            if v != i:
                total += float(-(q * F.log_softmax(scores[v] / 0.1, dim=1)).sum(1).mean())
                terms += 1
    assert swav(batch).item() == pytest.approx(total / terms, rel=1e-5)


def test_swav_freezes_prototypes_for_the_first_steps():
    swav = SwAV(embedding_dim=4, num_prototypes=3, freeze_prototypes_steps=1).train()
    batch = EmbeddingBatch(unit(4, 4, 0).requires_grad_(), unit(4, 4, 1))
    swav(batch).backward()
    assert swav.prototypes.weight.grad is None
    swav(batch).backward()
    assert swav.prototypes.weight.grad is not None and swav.prototypes.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------ LARS
def test_lars_scales_each_step_by_the_trust_ratio_and_skips_excluded_groups():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    b = torch.nn.Parameter(torch.tensor([1.0]))
    opt = LARS([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0, "lars_exclude": True}],
               lr=1.0, momentum=0.9, trust_coefficient=0.01)
    w.grad, b.grad = torch.tensor([1.0, 0.0]), torch.tensor([2.0])
    opt.step()
    g = torch.tensor([1.0, 0.0]) + 0.1 * torch.tensor([3.0, 4.0])
    ratio = 0.01 * 5.0 / g.norm()
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - ratio * g, atol=1e-6)
    assert torch.allclose(b.detach(), torch.tensor([-1.0]))


def test_constant_lr_keeps_the_named_submodule_at_the_base_lr_while_the_rest_warms_up_and_decays():
    from mmcontrast.config import TrainConfig
    from mmcontrast.training.optim import build_optimizer, build_scheduler, parameter_groups

    online = tiny_model()
    learner = Learner(online, SimSiam(NoNegatives()), MLPHead(8, [16], 8), StopGradientTarget(), swapped_direction="mean")
    cfg = TrainConfig(optimizer="sgd", lr=0.1, scheduler="cosine", warmup_steps=2, weight_decay=1e-4,
                      constant_lr=["predictor"])
    optimizer = build_optimizer(learner, cfg)
    predictor_ids = {id(p) for p in learner.predictor.parameters()}
    constant_groups = [g for g in optimizer.param_groups if g.get("constant_lr")]
    assert {id(p) for g in constant_groups for p in g["params"]} == predictor_ids
    assert sorted(g["weight_decay"] for g in constant_groups) == [0.0, 1e-4]  # biases and norms: still no decay
    scheduler = build_scheduler(optimizer, cfg, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    for i, group in enumerate(optimizer.param_groups):
        seen = [step[i] for step in lrs]
        if group.get("constant_lr"):
            assert seen == [0.1] * 10
        else:  # warmup from 0, peak 0.1, cosine down
            assert seen[0] == 0.0 and max(seen) == pytest.approx(0.1) and seen[-1] < 0.01
    plain = parameter_groups(learner, 1e-4)
    assert len(plain) == 2 and not any(g.get("constant_lr") for g in plain)
    with pytest.raises(ValueError, match=r"train.constant_lr names \['predictr'\].*predictor"):
        parameter_groups(learner, 1e-4, ["predictr"])


def test_shuffled_bn_keys_use_group_statistics_and_keep_the_row_order():
    online = tiny_model()
    images = torch.rand(8, 1, 8, 8)
    inputs = online.prepare(images)
    plain = MomentumTarget(online, shuffle_groups=1).train()
    shuffled = MomentumTarget(online, shuffle_groups=2).train()
    z = torch.zeros(8, 8)
    torch.manual_seed(0)
    keys = shuffled.keys(inputs, z)
    torch.manual_seed(0)
    order = torch.randperm(8)
    for group in order.chunk(2):  # each group embedded alone gives exactly its rows
        assert torch.allclose(keys[group], plain.keys({"pixel_values": inputs["pixel_values"][group]}, z[group]),
                              atol=1e-5)
    assert not torch.allclose(keys, plain.keys(inputs, z), atol=1e-4)  # batch statistics differ
    fresh_plain = MomentumTarget(online, shuffle_groups=1).eval()
    fresh_shuffled = MomentumTarget(online, shuffle_groups=2).eval()
    assert torch.allclose(fresh_shuffled.keys(inputs, z), fresh_plain.keys(inputs, z))  # evaluation: no shuffling
