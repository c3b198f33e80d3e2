"""Objectives against naive loop references, closed forms, and numerical safety."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.negatives import InBatchNegatives
from mmcontrast.objectives import (
    OBJECTIVES, BatchHardTriplet, InfoNCE, NTXent, PairwiseContrastive, SupCon, info_nce, nt_xent,
)
from mmcontrast.temperature import Temperature


def naive_info_nce(q, p, negs, tau):
    """Loop reference: candidates are all positives then all hard negatives (cosine)."""
    q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    cands = [p[j] for j in range(len(p))]
    if negs is not None:
        negs = F.normalize(negs, dim=-1)
        cands += [negs[j, k] for j in range(negs.shape[0]) for k in range(negs.shape[1])]
    total = 0.0
    for i in range(len(q)):
        scores = [math.exp(float(q[i] @ c) / tau) for c in cands]
        total += -math.log(scores[i] / sum(scores))
    return total / len(q)


def naive_nt_xent(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        denom = sum(math.exp(float(z[i] @ z[j]) / tau) for j in range(2 * n) if j != i)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / tau) / denom)
    return total / (2 * n)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_info_nce_matches_naive_loop(gen):
    q, p = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    loss = InfoNCE(temperature=0.1)(EmbeddingBatch(q, p))
    assert loss.item() == pytest.approx(naive_info_nce(q, p, None, 0.1), rel=1e-5)


def test_info_nce_with_hard_negatives_matches_naive_loop(gen):
    q, p, n = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen), torch.randn(5, 2, 8, generator=gen)
    loss = InfoNCE(temperature=0.05)(EmbeddingBatch(q, p, n))
    assert loss.item() == pytest.approx(naive_info_nce(q, p, n, 0.05), rel=1e-5)


def test_symmetric_info_nce_averages_both_directions(gen):
    q, p = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    loss = InfoNCE(temperature=0.2, symmetric=True)(EmbeddingBatch(q, p))
    expected = (naive_info_nce(q, p, None, 0.2) + naive_info_nce(p, q, None, 0.2)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_nt_xent_matches_naive_loop(gen):
    z1, z2 = torch.randn(7, 8, generator=gen), torch.randn(7, 8, generator=gen)
    assert NTXent(temperature=0.5)(EmbeddingBatch(z1, z2)).item() == pytest.approx(naive_nt_xent(z1, z2, 0.5), rel=1e-5)


@pytest.mark.parametrize("n", [2, 8, 33])
def test_closed_forms_for_identical_views(n):
    x = torch.ones(n, 4)
    assert nt_xent(x, x, 0.5).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    assert NTXent()(EmbeddingBatch(x, x)).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    # InfoNCE of a query against n identical candidates: uniform softmax over n
    assert InfoNCE()(EmbeddingBatch(x, x)).item() == pytest.approx(math.log(n), rel=1e-6)


def test_perfectly_separated_pairs_have_near_zero_loss():
    x = torch.eye(8)
    assert InfoNCE(temperature=0.01)(EmbeddingBatch(x, x.clone())).item() < 1e-6


def naive_supcon(views, labels, tau):
    z = F.normalize(torch.cat(views), dim=-1)
    lab = labels.repeat(len(views))
    total, count = 0.0, 0
    for i in range(len(z)):
        denom = sum(math.exp(float(z[i] @ z[a]) / tau) for a in range(len(z)) if a != i)
        pos = [p for p in range(len(z)) if p != i and lab[p] == lab[i]]
        if not pos:
            continue
        total += -sum(math.log(math.exp(float(z[i] @ z[p]) / tau) / denom) for p in pos) / len(pos)
        count += 1
    return total / count


def test_supcon_matches_naive_loop(gen):
    q, p = torch.randn(8, 6, generator=gen), torch.randn(8, 6, generator=gen)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    got = SupCon(temperature=0.1)(EmbeddingBatch(q, p, labels=labels)).item()
    assert got == pytest.approx(naive_supcon([q, p], labels, 0.1), rel=1e-5)
    single = SupCon(temperature=0.3)(EmbeddingBatch(q, labels=labels)).item()
    assert single == pytest.approx(naive_supcon([q], labels, 0.3), rel=1e-5)


def test_supcon_with_unique_labels_equals_nt_xent(gen):
    z1, z2 = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    supcon = SupCon(temperature=0.5)(EmbeddingBatch(z1, z2, labels=torch.arange(6))).item()
    assert supcon == pytest.approx(NTXent(temperature=0.5)(EmbeddingBatch(z1, z2)).item(), rel=1e-5)


def naive_batch_hard(x, labels, margin):
    losses = []
    for i in range(len(x)):
        d = [float((x[i] - x[j]).norm()) for j in range(len(x))]
        pos = [d[j] for j in range(len(x)) if j != i and labels[j] == labels[i]]
        neg = [d[j] for j in range(len(x)) if labels[j] != labels[i]]
        if pos and neg:
            losses.append(max(0.0, max(pos) - min(neg) + margin))
    return sum(losses) / len(losses)


def test_batch_hard_triplet_matches_naive_loop(gen):
    x = torch.randn(10, 4, generator=gen)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 3, 4])
    got = BatchHardTriplet(margin=1.0)(EmbeddingBatch(x, labels=labels)).item()
    assert got == pytest.approx(naive_batch_hard(x, labels, 1.0), rel=1e-4)


def test_batch_hard_triplet_pairs_without_labels(gen):
    q, p = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    got = BatchHardTriplet(margin=0.5)(EmbeddingBatch(q, p)).item()
    expected = naive_batch_hard(torch.cat([q, p]), torch.arange(5).repeat(2), 0.5)
    assert got == pytest.approx(expected, rel=1e-4)


def test_pairwise_contrastive_matches_naive_loop(gen):
    q, p = torch.randn(4, 6, generator=gen), torch.randn(4, 6, generator=gen)
    margin = 0.8
    got = PairwiseContrastive(margin=margin, distance="euclidean")(EmbeddingBatch(q, p)).item()
    pos, neg = [], []
    for i in range(4):
        for j in range(4):
            d = float((q[i] - p[j]).norm())
            (pos if i == j else neg).append(d)
    expected = 0.5 * (sum(d * d for d in pos) / len(pos) + sum(max(0, margin - d) ** 2 for d in neg) / len(neg))
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["info_nce", "nt_xent", "supcon", "triplet", "pairwise_contrastive"])
def test_low_precision_and_extreme_logits_stay_finite(dtype, name, gen):
    # huge unnormalised embeddings: an fp16 dot product of these overflows unless promoted
    q = (torch.randn(16, 32, generator=gen) * 300).to(dtype).requires_grad_()
    p = (torch.randn(16, 32, generator=gen) * 300).to(dtype)
    n = (torch.randn(16, 2, 32, generator=gen) * 300).to(dtype)
    labels = torch.arange(16) % 4
    params = {"normalize": False, "temperature": 0.01} if name in ("info_nce", "nt_xent", "supcon") else {}
    objective = OBJECTIVES.get(name)(**params)
    loss = objective(EmbeddingBatch(q, p, n if name in ("info_nce", "pairwise_contrastive") else None, labels))
    loss.backward()
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert torch.isfinite(q.grad.float()).all()


def test_learnable_temperature_is_clamped():
    temp = Temperature(0.07, learnable=True, max_logit_scale=100.0)
    with torch.no_grad():
        temp.log_scale.fill_(10.0)  # scale e^10 >> 100
    assert temp.scale().item() == pytest.approx(100.0)
    loss = InfoNCE(temperature=0.07, learnable_temperature=True)
    assert any(p is loss.temperature.log_scale for p in loss.parameters())
    with pytest.raises(ValueError, match="max_logit_scale"):
        Temperature(0.001, max_logit_scale=100.0)


def test_learnable_temperature_receives_gradient(gen):
    objective = InfoNCE(temperature=0.1, learnable_temperature=True)
    q, p = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    objective(EmbeddingBatch(q, p)).backward()
    assert objective.temperature.log_scale.grad is not None and objective.temperature.log_scale.grad != 0


def test_pure_function_and_module_agree(gen):
    q, p = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    qn, pn = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    direct = info_nce(qn, pn, torch.arange(6), 0.05)
    module = InfoNCE(temperature=0.05, negatives=InBatchNegatives(gather=False))(EmbeddingBatch(q, p))
    assert direct.item() == pytest.approx(module.item(), rel=1e-6)


def test_dimension_mismatch_between_towers_is_a_clear_error():
    with pytest.raises(ValueError, match="same dimension"):
        EmbeddingBatch(torch.randn(4, 8), torch.randn(4, 16))
    with pytest.raises(ValueError, match="negatives must be"):
        EmbeddingBatch(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8))
