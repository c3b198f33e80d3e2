"""Miners against naive loops, their composition with pair and triplet losses, and the class-balanced batch
sampler (alone and through ``train``'s config)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.data.class_balanced import ClassBalancedBatchSampler, dataset_labels
from mmcontrast.miners import MINERS, BatchHardMiner, Mined, MultiSimilarityMiner, SemiHardMiner
from mmcontrast.objectives import OBJECTIVES, BatchHardTriplet, MultiSimilarity, PairwiseContrastive


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    q, p = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    return q, p, labels


def layout(q, p, labels, normalize=False):
    """Anchors = pool = both views; masks of same-label (not self) and other-label columns."""
    z = torch.cat([q, p])
    if normalize:
        z = F.normalize(z, dim=-1)
    lab = labels.repeat(2)
    same = lab[:, None] == lab[None, :]
    eye = torch.eye(len(z), dtype=torch.bool)
    return z, lab, same & ~eye, ~same


def euclid(z):
    return torch.cdist(z, z)


def naive_batch_hard(d, pos, neg):
    out = []
    for a in range(d.shape[0]):
        ps = [j for j in range(d.shape[1]) if pos[a, j]]
        ns = [j for j in range(d.shape[1]) if neg[a, j]]
        if ps and ns:
            out.append((a, max(ps, key=lambda j: (d[a, j].item(), -j)), min(ns, key=lambda j: (d[a, j].item(), j))))
    return out


def naive_semi_hard(d, pos, neg, margin):
    out = []
    for a in range(d.shape[0]):
        for p in range(d.shape[1]):
            if not pos[a, p]:
                continue
            cands = [n for n in range(d.shape[1]) if neg[a, n] and d[a, n] > d[a, p]
                     and (margin is None or d[a, n] < d[a, p] + margin)]
            if cands:
                out.append((a, p, min(cands, key=lambda n: (d[a, n].item(), n))))
    return out


def naive_ms_pairs(s, pos, neg, eps):
    keep_pos, keep_neg = torch.zeros_like(pos), torch.zeros_like(neg)
    for a in range(s.shape[0]):
        ps = [s[a, j].item() for j in range(s.shape[1]) if pos[a, j]]
        ns = [s[a, j].item() for j in range(s.shape[1]) if neg[a, j]]
        for j in range(s.shape[1]):
            if neg[a, j] and ps and s[a, j] > min(ps) - eps:
                keep_neg[a, j] = True
            if pos[a, j] and ns and s[a, j] < max(ns) + eps:
                keep_pos[a, j] = True
    return keep_pos, keep_neg


def triplet_set(t: torch.Tensor) -> set:
    return {tuple(r) for r in t.tolist()}


def test_batch_hard_miner_matches_loop(batch):
    z, _, pos, neg = layout(*batch)
    d = euclid(z)
    got = BatchHardMiner()(-d, pos, neg).triplets
    assert triplet_set(got) == set(naive_batch_hard(d, pos, neg))


@pytest.mark.parametrize("margin", [None, 0.5])
def test_semi_hard_miner_matches_loop(batch, margin):
    z, _, pos, neg = layout(*batch)
    d = euclid(z)
    got = SemiHardMiner(margin)(-d, pos, neg).triplets
    expected = naive_semi_hard(d, pos, neg, margin)
    assert triplet_set(got) == set(expected) and len(expected) > 0
    if margin is not None:
        assert len(expected) < len(naive_semi_hard(d, pos, neg, None))  # the band really restricts


def test_multi_similarity_miner_matches_loop(batch):
    z, _, pos, neg = layout(*batch, normalize=True)
    s = z @ z.T
    got_pos, got_neg = MultiSimilarityMiner(0.1)(s, pos, neg).pairs()
    exp_pos, exp_neg = naive_ms_pairs(s, pos, neg, 0.1)
    assert torch.equal(got_pos, exp_pos) and torch.equal(got_neg, exp_neg)
    assert 0 < exp_neg.sum() < neg.sum()  # mining drops some easy negatives but not all


def test_pairs_and_triplets_convert_both_ways():
    pos = torch.tensor([[False, True, True, False], [False, False, False, False]])
    neg = torch.tensor([[False, False, False, True], [True, False, True, False]])
    mined = Mined(positive_pairs=pos, negative_pairs=neg)
    assert triplet_set(mined.triplet_index()) == {(0, 1, 3), (0, 2, 3)}  # anchor 1 has no positive: no triplet
    triplets = Mined(triplets=torch.tensor([[0, 1, 3], [1, 0, 2]]), shape=(2, 4))
    tp, tn = triplets.pairs()
    assert tp.nonzero().tolist() == [[0, 1], [1, 0]] and tn.nonzero().tolist() == [[0, 3], [1, 2]]
    with pytest.raises(ValueError, match="either triplets or"):
        Mined(positive_pairs=pos, negative_pairs=neg, triplets=torch.zeros(0, 3, dtype=torch.long))


def test_triplet_with_batch_hard_miner_equals_the_default_batch_hard(batch):
    q, p, labels = batch
    default = BatchHardTriplet(margin=0.3)(EmbeddingBatch(q, p, labels=labels))
    mined = BatchHardTriplet(margin=0.3, miner=BatchHardMiner())(EmbeddingBatch(q, p, labels=labels))
    assert mined.item() == pytest.approx(default.item(), rel=1e-6)


@pytest.mark.parametrize("distance", ["euclidean", "manhattan", "cosine", "dot"])
def test_triplet_over_semi_hard_triplets_matches_loop(batch, distance):
    q, p, labels = batch
    from mmcontrast.objectives import get_distance

    z, _, pos, neg = layout(q, p, labels)
    d = get_distance(distance).distance(z, z)
    triplets = naive_semi_hard(d, pos, neg, 0.4)
    expected = sum(max(0.0, d[a, pp].item() - d[a, n].item() + 0.4) for a, pp, n in triplets) / len(triplets)
    got = BatchHardTriplet(margin=0.4, distance=distance, miner=SemiHardMiner(0.4))(EmbeddingBatch(q, p, labels=labels))
    assert got.item() == pytest.approx(expected, rel=1e-4)


def test_triplet_loss_reads_a_pair_miners_pairs_as_all_their_triplets(batch):
    q, p, labels = batch
    z, _, pos, neg = layout(q, p, labels)
    d = euclid(z)
    kp, kn = naive_ms_pairs(-d, pos, neg, 0.1)
    terms = [max(0.0, d[a, i].item() - d[a, j].item() + 0.2) for a in range(16)
             for i in range(16) if kp[a, i] for j in range(16) if kn[a, j]]
    got = BatchHardTriplet(margin=0.2, miner=MultiSimilarityMiner(0.1))(EmbeddingBatch(q, p, labels=labels))
    assert got.item() == pytest.approx(sum(terms) / len(terms), rel=1e-4)


def test_pairwise_contrastive_over_mined_pairs_matches_loop(batch):
    q, p, labels = batch
    z, _, pos, neg = layout(q, p, labels)
    d = 1 - F.normalize(z, dim=-1) @ F.normalize(z, dim=-1).T
    triplets = naive_batch_hard(d, pos, neg)
    pos_pairs = {(a, i) for a, i, _ in triplets}
    neg_pairs = {(a, j) for a, _, j in triplets}
    expected = 0.5 * (sum(d[a, i].item() ** 2 for a, i in pos_pairs) / len(pos_pairs)
                      + sum(max(0.0, 0.5 - d[a, j].item()) ** 2 for a, j in neg_pairs) / len(neg_pairs))
    got = PairwiseContrastive(margin=0.5, miner=BatchHardMiner())(EmbeddingBatch(q, p, labels=labels))
    assert got.item() == pytest.approx(expected, rel=1e-4)


def test_multi_similarity_loss_with_its_miner_is_the_papers_algorithm(batch):
    q, p, labels = batch
    z, _, pos, neg = layout(q, p, labels, normalize=True)
    s = z @ z.T
    kp, kn = naive_ms_pairs(s, pos, neg, 0.1)
    total = 0.0
    for a in range(16):
        sp = [s[a, j].item() for j in range(16) if kp[a, j]]
        sn = [s[a, j].item() for j in range(16) if kn[a, j]]
        if sp:
            total += np.log1p(sum(np.exp(-2.0 * (x - 0.5)) for x in sp)) / 2.0
        if sn:
            total += np.log1p(sum(np.exp(40.0 * (x - 0.5)) for x in sn)) / 40.0
    got = MultiSimilarity(alpha=2.0, beta=40.0, base=0.5, miner=MultiSimilarityMiner(0.1))(
        EmbeddingBatch(q, p, labels=labels))
    assert got.item() == pytest.approx(total / 16, rel=1e-4)


@pytest.mark.parametrize("objective", ["triplet", "pairwise_contrastive", "lifted_structured", "circle",
                                       "multi_similarity"])
@pytest.mark.parametrize("miner", ["batch_hard", "semi_hard", "multi_similarity"])
def test_every_miner_composes_with_every_pair_or_triplet_loss(batch, objective, miner, monkeypatch):
    q, p, labels = batch
    q, p = q.clone().requires_grad_(), p.clone().requires_grad_()
    chosen = MINERS.get(miner)()
    mined = []  # what the miner returned: the loss must see these pairs and no other
    call = type(chosen).__call__
    monkeypatch.setattr(type(chosen), "__call__", lambda self, *args: mined.append(call(self, *args)) or mined[-1])
    loss = OBJECTIVES.get(objective)(miner=chosen)(EmbeddingBatch(q, p, labels=labels))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0 and q.grad.abs().sum() > 0
    # the miner saw anchors x pool = both views (16 x 16) and chose some positives and negatives the labels allow
    assert len(mined) == 1
    positive, negative = mined[0].pairs()
    _, _, allowed_positive, allowed_negative = layout(q.detach(), p, labels)
    assert positive.any() and negative.any()
    assert not (positive & ~allowed_positive).any() and not (negative & ~allowed_negative).any()
    # and the loss reads only what the miner returns: a miner that selects nothing leaves no loss
    nothing = torch.zeros(16, 16, dtype=torch.bool)
    monkeypatch.setattr(type(chosen), "__call__", lambda self, *args: Mined(nothing, nothing.clone()))
    assert OBJECTIVES.get(objective)(miner=chosen)(EmbeddingBatch(q, p, labels=labels)).item() == 0.0


def test_nothing_mined_gives_a_zero_loss_that_still_backpropagates(batch):
    q, p, labels = batch
    far = torch.cat([torch.zeros(8, 4), labels[:, None].float().expand(8, 4) * 100], dim=1)  # classes far apart
    far = far.clone().requires_grad_()
    loss = BatchHardTriplet(margin=0.1, miner=SemiHardMiner(0.1))(EmbeddingBatch(far, labels=labels))
    loss.backward()
    assert loss.item() == 0.0 and far.grad is not None
    assert loss.requires_grad and torch.equal(far.grad, torch.zeros_like(far))  # in the graph, and no pull at all


# ---------------------------------------------------------------- class-balanced sampler


def test_class_balanced_batches_hold_m_of_each_class():
    labels = np.array([0] * 30 + [1] * 7 + [2] * 3 + [3] * 20 + [4] * 12)
    sampler = ClassBalancedBatchSampler(labels, batch_size=12, samples_per_class=4, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == len(labels) // 12
    for b in batches:
        counts = Counter(labels[b].tolist())
        assert len(b) == 12 and set(counts.values()) == {4} and len(counts) == 3
    # every class is drawn about equally often, the 3-row class repeats rows but within one class only
    seen = Counter(labels[r] for b in batches for r in b)
    assert set(seen) == {0, 1, 2, 3, 4}
    # same seed and epoch: same batches; another epoch: different ones
    assert list(ClassBalancedBatchSampler(labels, 12, 4, seed=1)) == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_class_balanced_sampler_errors_name_the_problem():
    with pytest.raises(ValueError, match="multiple of samples_per_class 4"):
        ClassBalancedBatchSampler([0, 1, 2], batch_size=10, samples_per_class=4)
    with pytest.raises(ValueError, match="needs 4 classes, the data has 2"):
        ClassBalancedBatchSampler([0, 1, 0, 1], batch_size=8, samples_per_class=2)

    class Rows(list):
        column_names = ["text"]

    with pytest.raises(KeyError, match="no label column 'label'.*columns: text"):
        dataset_labels(Rows([{"text": "a"}]))


def test_class_balanced_sampler_from_config_feeds_train(tmp_path):
    """``data.batch_sampler: {name: class_balanced}`` through ``train()``: each batch the objective sees holds
    m samples of each class (recorded from the objective's input)."""
    from mmcontrast.config import load_config
    from mmcontrast.training import train
    from mmcontrast.training import build as build_module

    seen: list[torch.Tensor] = []
    original = build_module.build_objective

    def recording(*args, **kwargs):
        objective = original(*args, **kwargs)
        forward = objective.forward

        def wrapped(batch):
            seen.append(batch.labels.clone())
            return forward(batch)

        objective.forward = wrapped
        return objective

    build_module.build_objective = recording
    try:
        cfg = load_config(ROOT / "configs" / "quickstart.yaml", [
            f"output_dir={tmp_path}", "train.max_steps=3", "train.batch_size=12", "evaluators=[]",
            "export.enabled=false", "train.progress_bar=false", "train.log_with=[]",
            "data.batch_sampler={name: class_balanced, samples_per_class: 3}", "view.label_column=label",
            "objective={name: multi_similarity}", "miner={name: multi_similarity}"])
        result = train(cfg)
    finally:
        build_module.build_objective = original
    assert result.steps == 3 and len(seen) == 3
    for labels in seen:
        counts = Counter(labels.tolist())
        assert len(counts) == 4 and set(counts.values()) == {3}
