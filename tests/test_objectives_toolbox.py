"""The metric-learning toolbox against naive loop references (value AND gradient): the distance registry, every
similarity kind in the softmax objectives, NCE, N-pair, lifted structured, circle, soft nearest neighbour,
multi-similarity and alignment + uniformity; plus the config-time errors of a bad objective/distance/miner/view
combination."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.config import ConfigError, load_config
from mmcontrast.negatives import InBatchNegatives
from mmcontrast.objectives import (
    DISTANCES, OBJECTIVES, NCE, AlignUniform, Circle, InfoNCE, LiftedStructured, MultiSimilarity, NPair, NTXent,
    PairwiseContrastive, SoftNearestNeighbour, SupCon, align_uniform, circle, get_distance, lifted_structured,
    multi_similarity, n_pair, nce, soft_nearest_neighbour,
)
from mmcontrast.objectives.distances import pairwise_distance

KINDS = ["cosine", "dot", "euclidean", "squared_euclidean", "manhattan"]


def naive_raw(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The kind's raw value for one pair of vectors, element by element."""
    if kind == "dot":
        return sum(a[k] * b[k] for k in range(len(a)))
    if kind == "cosine":
        dot = sum(a[k] * b[k] for k in range(len(a)))
        return dot / (torch.sqrt(sum(x * x for x in a)) * torch.sqrt(sum(x * x for x in b)))
    if kind == "squared_euclidean":
        return sum((a[k] - b[k]) ** 2 for k in range(len(a)))
    if kind == "euclidean":
        return torch.sqrt(sum((a[k] - b[k]) ** 2 for k in range(len(a))))
    if kind == "manhattan":
        return sum(abs(a[k] - b[k]) for k in range(len(a)))
    raise KeyError(kind)


def naive_sim(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return naive_raw(kind, a, b) if kind in ("cosine", "dot") else -naive_raw(kind, a, b)


def naive_dist(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if kind == "cosine":
        return 1 - naive_raw(kind, a, b)
    return -naive_raw(kind, a, b) if kind == "dot" else naive_raw(kind, a, b)


def log(x):
    return torch.log(torch.as_tensor(x))


def both_views(q, p, labels, normalize):
    z = torch.cat([q, p])
    if normalize:
        z = F.normalize(z, dim=-1)
    return z, labels.repeat(2)


def value_and_grads(fn, *leaves):
    leaves = [x.detach().clone().requires_grad_() for x in leaves]
    value = fn(*leaves)
    grads = torch.autograd.grad(value, leaves)
    return value.detach(), grads


def assert_same(fast, naive, leaves, rtol=1e-4, atol=1e-5):
    value1, grads1 = value_and_grads(fast, *leaves)
    value2, grads2 = value_and_grads(naive, *leaves)
    assert value1.item() == pytest.approx(value2.item(), rel=rtol, abs=atol)
    for g1, g2 in zip(grads1, grads2):
        assert torch.allclose(g1, g2, rtol=rtol, atol=atol), (g1 - g2).abs().max()


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    q, p = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    labels = torch.tensor([0, 1, 0, 2, 1, 3])
    return q, p, labels


# ---------------------------------------------------------------- distances


@pytest.mark.parametrize("kind", KINDS)
def test_every_distance_kind_matches_a_loop_and_knows_its_direction(kind):
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 3, generator=gen), torch.randn(5, 3, generator=gen)
    d = get_distance(kind)
    sim, dist = d.similarity(a, b), d.distance(a, b)
    for i in range(4):
        for j in range(5):
            assert sim[i, j].item() == pytest.approx(naive_sim(kind, a[i], b[j]).item(), rel=1e-4, abs=1e-5)
            assert dist[i, j].item() == pytest.approx(naive_dist(kind, a[i], b[j]).item(), rel=1e-4, abs=1e-5)
    # paired = diagonal of pairwise; larger similarity <=> smaller distance
    assert torch.allclose(d.paired_similarity(a, b[:4]), d.similarity(a, b[:4]).diagonal(), atol=1e-5)
    assert torch.allclose(d.paired_distance(a, b[:4]), d.distance(a, b[:4]).diagonal(), atol=1e-5)
    order_sim, order_dist = sim.argsort(dim=1, descending=True), dist.argsort(dim=1)
    assert torch.equal(order_sim, order_dist)
    assert d.higher_is_closer == (kind in ("cosine", "dot"))
    assert d.nonnegative == (kind != "dot")
    if d.nonnegative:  # identical rows are at distance ~0
        assert d.distance(a, a).diagonal().abs().max().item() < 1e-4


def test_distance_registry_lists_its_kinds_and_rejects_others():
    assert DISTANCES.names() == sorted(KINDS)
    with pytest.raises(ValueError, match="unknown distance/similarity 'hamming'.*cosine"):
        pairwise_distance(torch.ones(2, 2), torch.ones(2, 2), "hamming")
    with pytest.raises(ValueError, match="objective 'pairwise_contrastive' cannot use distance 'dot'"):
        PairwiseContrastive(distance="dot")


def naive_info_nce(q, p, tau, kind, normalize):
    if normalize:
        q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    total = 0
    for i in range(len(q)):
        logits = [naive_sim(kind, q[i], p[j]) / tau for j in range(len(p))]
        total = total - (logits[i] - torch.logsumexp(torch.stack(logits), 0))
    return total / len(q)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_takes_every_similarity_kind_with_the_right_sign(data, kind, normalize):
    q, p, _ = data
    objective = InfoNCE(temperature=0.5, similarity=kind, normalize=normalize)
    assert_same(lambda q, p: objective(EmbeddingBatch(q, p)), lambda q, p: naive_info_nce(q, p, 0.5, kind, normalize),
                [q, p])
    if kind != "dot":  # a distance is negated: a positive equal to its query is the closest candidate, lower loss
        assert objective(EmbeddingBatch(q, q.clone())).item() < objective(EmbeddingBatch(q, p)).item()


def test_default_similarity_is_the_previous_cosine(data):
    q, p, labels = data
    for cls in (InfoNCE, NTXent):
        a, b = cls(temperature=0.3)(EmbeddingBatch(q, p)), cls(temperature=0.3, similarity="cosine")(EmbeddingBatch(q, p))
        assert a.item() == pytest.approx(b.item(), rel=1e-6)
    a = SupCon(temperature=0.3)(EmbeddingBatch(q, p, labels=labels))
    b = SupCon(temperature=0.3, normalize=False, similarity="cosine")(EmbeddingBatch(q, p, labels=labels))
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_supcon_and_nt_xent_with_euclidean_similarity_match_loops(data):
    q, p, labels = data

    def naive_supcon(q, p):
        z, lab = both_views(q, p, labels, True)
        total, count = 0, 0
        for i in range(len(z)):
            logits = torch.stack([-naive_raw("euclidean", z[i], z[a]) / 0.2 for a in range(len(z)) if a != i])
            others = [a for a in range(len(z)) if a != i]
            pos = [k for k, a in enumerate(others) if lab[a] == lab[i]]
            lse = torch.logsumexp(logits, 0)
            total = total - sum(logits[k] - lse for k in pos) / len(pos)
            count += 1
        return total / count

    objective = SupCon(temperature=0.2, similarity="euclidean")
    assert_same(lambda q, p: objective(EmbeddingBatch(q, p, labels=labels)), naive_supcon, [q, p])
    unique = torch.arange(6)
    a = NTXent(temperature=0.2, similarity="manhattan")(EmbeddingBatch(q, p))
    b = SupCon(temperature=0.2, similarity="manhattan")(EmbeddingBatch(q, p, labels=unique))
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


# ---------------------------------------------------------------- new losses


def naive_nce(q, p, tau, log_z, kind="dot"):
    q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    m = len(p)
    total = 0
    for i in range(len(q)):
        for j in range(m):
            g = naive_sim(kind, q[i], p[j]) / tau - (math.log(m) + log_z) - math.log((m - 1) / m)
            h = 1 / (1 + torch.exp(-g))
            total = total - (torch.log(h) if i == j else torch.log(1 - h))
    return total / len(q)


@pytest.mark.parametrize("kind", ["dot", "euclidean"])
def test_nce_matches_naive_loop(data, kind):
    q, p, _ = data
    objective = NCE(temperature=0.5, log_partition=0.3, similarity=kind)
    assert_same(lambda q, p: objective(EmbeddingBatch(q, p)), lambda q, p: naive_nce(q, p, 0.5, 0.3, kind), [q, p])
    direct = nce(F.normalize(q, dim=-1), F.normalize(p, dim=-1), torch.arange(6), 0.5, 0.3, kind)
    assert direct.item() == pytest.approx(objective(EmbeddingBatch(q, p)).item(), rel=1e-6)


def test_nce_learns_its_log_partition(data):
    q, p, _ = data
    objective = NCE(temperature=0.5, learnable_partition=True)
    objective(EmbeddingBatch(q, p)).backward()
    assert objective.log_partition.grad is not None and objective.log_partition.grad.abs().item() > 0
    # closed form far from the optimum: with c = 50 every pair is called noise; the noise terms vanish and the
    # positive's term is -G = 50 - s_ii / tau + log(M - 1)
    s_ii = (F.normalize(q, dim=-1) * F.normalize(p, dim=-1)).sum(-1)
    expected = (50.0 - s_ii / 0.5 + math.log(5)).mean().item()
    assert NCE(temperature=0.5, log_partition=50.0)(EmbeddingBatch(q, p)).item() == pytest.approx(expected, rel=1e-5)
    # and a gradient step on log Z lowers the loss
    before = objective(EmbeddingBatch(q, p)).item()
    with torch.no_grad():
        objective.log_partition -= 0.1 * objective.log_partition.grad
    assert objective(EmbeddingBatch(q, p)).item() < before


def naive_n_pair(q, p, labels, l2_reg, use_labels):
    total = 0
    for i in range(len(q)):
        s_pos = naive_raw("dot", q[i], p[i])
        terms = [torch.exp(naive_raw("dot", q[i], p[j]) - s_pos) for j in range(len(p))
                 if j != i and not (use_labels and labels[j] == labels[i])]
        total = total + torch.log(1 + sum(terms))
    reg = sum(naive_raw("dot", x, x) for x in q) + sum(naive_raw("dot", x, x) for x in p)
    return total / len(q) + l2_reg * reg / len(q)


@pytest.mark.parametrize("use_labels", [False, True])
def test_n_pair_matches_naive_loop(data, use_labels):
    q, p, labels = data
    objective = NPair(l2_reg=0.01)

    def fast(q, p):
        return objective(EmbeddingBatch(q, p, labels=labels if use_labels else None))

    assert_same(fast, lambda q, p: naive_n_pair(q, p, labels, 0.01, use_labels), [q, p])
    assert n_pair(q, p, torch.arange(6)).item() == pytest.approx(naive_n_pair(q, p, labels, 0.0, False).item(), rel=1e-5)


def test_n_pair_with_hard_negatives_counts_them_as_negatives(data):
    q, p, labels = data
    hard = torch.randn(6, 1, 5, generator=torch.Generator().manual_seed(3))

    def naive(q, p, h):
        total = 0
        for i in range(6):
            s_pos = naive_raw("dot", q[i], p[i])
            cands = [p[j] for j in range(6) if j != i and labels[j] != labels[i]] + [h[j, 0] for j in range(6)]
            total = total + torch.log(1 + sum(torch.exp(naive_raw("dot", q[i], c) - s_pos) for c in cands))
        return total / 6

    objective = NPair(l2_reg=0.0)
    assert_same(lambda q, p, h: objective(EmbeddingBatch(q, p, h, labels=labels)), naive, [q, p, hard])


def naive_lifted(z, lab, margin, kind):
    n = len(z)
    total, pairs = 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            if lab[i] != lab[j]:
                continue
            neg_i = [torch.exp(margin - naive_dist(kind, z[i], z[k])) for k in range(n) if lab[k] != lab[i]]
            neg_j = [torch.exp(margin - naive_dist(kind, z[j], z[k])) for k in range(n) if lab[k] != lab[j]]
            big_j = torch.log(sum(neg_i) + sum(neg_j)) + naive_dist(kind, z[i], z[j])
            total = total + torch.clamp(big_j, min=0) ** 2
            pairs += 1
    return total / (2 * pairs)  # the paper's 1 / (2|P|) over unordered pairs


@pytest.mark.parametrize("kind", ["euclidean", "manhattan", "cosine"])
def test_lifted_structured_matches_the_papers_formula(data, kind):
    q, p, labels = data
    objective = LiftedStructured(margin=1.0, distance=kind, normalize=True)

    def naive(q, p):
        z, lab = both_views(q, p, labels, True)
        return naive_lifted(z, lab, 1.0, kind)

    assert_same(lambda q, p: objective(EmbeddingBatch(q, p, labels=labels)), naive, [q, p])
    z, lab = both_views(q, p, labels, True)
    assert lifted_structured(z, lab, 1.0, kind).item() == pytest.approx(naive_lifted(z, lab, 1.0, kind).item(), rel=1e-5)


def naive_circle(z, lab, m, gamma):
    total, count = 0, 0
    for i in range(len(z)):
        sp = [naive_raw("dot", z[i], z[j]) for j in range(len(z)) if j != i and lab[j] == lab[i]]
        sn = [naive_raw("dot", z[i], z[j]) for j in range(len(z)) if lab[j] != lab[i]]
        if not sp or not sn:
            continue
        pos = sum(torch.exp(-gamma * torch.clamp(1 + m - s.detach(), min=0) * (s - (1 - m))) for s in sp)
        neg = sum(torch.exp(gamma * torch.clamp(s.detach() + m, min=0) * (s - m)) for s in sn)
        total = total + torch.log(1 + pos * neg)
        count += 1
    return total / count


def test_circle_loss_matches_naive_loop(data):
    q, p, labels = data
    objective = Circle(margin=0.25, gamma=4.0)

    def naive(q, p):
        z, lab = both_views(q, p, labels, True)
        return naive_circle(z, lab, 0.25, 4.0)

    assert_same(lambda q, p: objective(EmbeddingBatch(q, p, labels=labels)), naive, [q, p])
    z, lab = both_views(q, p, labels, True)
    same = lab[:, None] == lab[None, :]
    positive = same & ~torch.eye(12, dtype=torch.bool)
    assert circle(z @ z.T, positive, ~same, 0.25, 4.0).item() == pytest.approx(naive(q, p).item(), rel=1e-5)


def test_circle_loss_is_stable_at_its_large_paper_scale(data):
    q, p, labels = data
    q = q.clone().requires_grad_()
    loss = Circle(margin=0.25, gamma=256.0)(EmbeddingBatch(q, p, labels=labels))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(q.grad).all()


def naive_snn(z, lab, temperature, kind):
    total, count = 0, 0
    for i in range(len(z)):
        num = [torch.exp(naive_sim(kind, z[i], z[j]) / temperature) for j in range(len(z))
               if j != i and lab[j] == lab[i]]
        den = [torch.exp(naive_sim(kind, z[i], z[k]) / temperature) for k in range(len(z)) if k != i]
        if not num:
            continue
        total = total - torch.log(sum(num) / sum(den))
        count += 1
    return total / count


@pytest.mark.parametrize("kind", ["squared_euclidean", "dot"])
def test_soft_nearest_neighbour_matches_naive_loop(data, kind):
    q, p, labels = data
    objective = SoftNearestNeighbour(temperature=0.5, similarity=kind, normalize=False)

    def naive(q, p):
        z, lab = both_views(q, p, labels, False)
        return naive_snn(z, lab, 0.5, kind)

    assert_same(lambda q, p: objective(EmbeddingBatch(q, p, labels=labels)), naive, [q, p])
    # single view: anchors without another sample of their class are left out (label 2 and 3 here)
    single = SoftNearestNeighbour(temperature=0.5, similarity=kind, normalize=False)(EmbeddingBatch(q, labels=labels))
    assert single.item() == pytest.approx(naive_snn(q, labels, 0.5, kind).item(), rel=1e-4)
    assert soft_nearest_neighbour(q, labels, 0.5, kind).item() == pytest.approx(single.item(), rel=1e-6)


def naive_ms(z, lab, alpha, beta, base):
    total = 0
    for i in range(len(z)):
        sp = [naive_raw("dot", z[i], z[j]) for j in range(len(z)) if j != i and lab[j] == lab[i]]
        sn = [naive_raw("dot", z[i], z[j]) for j in range(len(z)) if lab[j] != lab[i]]
        if sp:
            total = total + torch.log(1 + sum(torch.exp(-alpha * (s - base)) for s in sp)) / alpha
        if sn:
            total = total + torch.log(1 + sum(torch.exp(beta * (s - base)) for s in sn)) / beta
    return total / len(z)


def test_multi_similarity_matches_naive_loop(data):
    q, p, labels = data
    objective = MultiSimilarity(alpha=2.0, beta=10.0, base=0.5)

    def naive(q, p):
        z, lab = both_views(q, p, labels, True)
        return naive_ms(z, lab, 2.0, 10.0, 0.5)

    assert_same(lambda q, p: objective(EmbeddingBatch(q, p, labels=labels)), naive, [q, p])
    z, lab = both_views(q, p, labels, True)
    same = lab[:, None] == lab[None, :]
    got = multi_similarity(z @ z.T, same & ~torch.eye(12, dtype=torch.bool), ~same, 2.0, 10.0, 0.5)
    assert got.item() == pytest.approx(naive(q, p).item(), rel=1e-5)


def naive_align_uniform(x, y, alpha, t, lam):
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    align = sum(naive_raw("euclidean", x[i], y[i]) ** alpha for i in range(len(x))) / len(x)

    def uniform(v):
        terms = [torch.exp(-t * naive_raw("squared_euclidean", v[i], v[j]))
                 for i in range(len(v)) for j in range(i + 1, len(v))]
        return torch.log(sum(terms) / len(terms))

    return align + lam * (uniform(x) + uniform(y)) / 2


def test_align_uniform_matches_naive_loop(data):
    q, p, _ = data
    objective = AlignUniform(alpha=2.0, t=2.0, lam=0.7)
    assert_same(lambda q, p: objective(EmbeddingBatch(q, p)), lambda q, p: naive_align_uniform(q, p, 2.0, 2.0, 0.7),
                [q, p])
    assert align_uniform(q, p, 2.0, 2.0, 0.7).item() == pytest.approx(objective(EmbeddingBatch(q, p)).item(), rel=1e-6)
    # closed form: identical views, all rows one direction -> align 0, uniformity log(1) = 0
    ones = torch.ones(5, 3)
    assert objective(EmbeddingBatch(ones, ones)).item() == pytest.approx(0.0, abs=1e-6)


def test_label_free_pair_losses_treat_each_pair_as_a_class(data):
    q, p, _ = data
    for cls in (LiftedStructured, Circle, MultiSimilarity, SoftNearestNeighbour):
        a = cls()(EmbeddingBatch(q, p)).item()
        b = cls()(EmbeddingBatch(q, p, labels=torch.arange(6) + 10)).item()
        assert a == pytest.approx(b, rel=1e-6), cls


def test_hard_negatives_join_the_pool_of_label_aware_losses(data):
    q, p, labels = data
    hard = torch.randn(6, 2, 5, generator=torch.Generator().manual_seed(4))
    for cls in (LiftedStructured, Circle, MultiSimilarity, SoftNearestNeighbour):
        with_hard = cls()(EmbeddingBatch(q, p, hard, labels=labels)).item()
        without = cls()(EmbeddingBatch(q, p, labels=labels)).item()
        assert with_hard != pytest.approx(without), cls


@pytest.mark.parametrize("name", ["nce", "n_pair", "lifted_structured", "circle", "soft_nearest_neighbour",
                                  "multi_similarity", "align_uniform"])
def test_pure_modules_without_gathering_equal_the_gathering_default(data, name):
    """In one process gathering is a no-op: the module with in-batch negatives gathered or not agrees."""
    q, p, labels = data
    a = OBJECTIVES.get(name)()(EmbeddingBatch(q, p, labels=labels))
    b = OBJECTIVES.get(name)(negatives=InBatchNegatives(gather=False))(EmbeddingBatch(q, p, labels=labels))
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["nce", "n_pair", "lifted_structured", "circle", "soft_nearest_neighbour",
                                  "multi_similarity", "align_uniform"])
def test_new_losses_stay_finite_in_low_precision_with_extreme_embeddings(dtype, name):
    gen = torch.Generator().manual_seed(0)
    q = (torch.randn(16, 32, generator=gen) * 300).to(dtype).requires_grad_()
    p = (torch.randn(16, 32, generator=gen) * 300).to(dtype)
    loss = OBJECTIVES.get(name)()(EmbeddingBatch(q, p, labels=torch.arange(16) % 4))
    loss.backward()
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert torch.isfinite(q.grad.float()).all()


# ---------------------------------------------------------------- config-time errors

BASE = ROOT / "configs" / "vision" / "offline" / "supcon.yaml"


@pytest.mark.parametrize("overrides, message", [
    (["objective={name: pairwise_contrastive, distance: dot}"],
     "objective 'pairwise_contrastive' cannot use distance 'dot'.*never negative.*use one of cosine"),
    (["objective={name: lifted_structured, distance: dot}"], "objective 'lifted_structured' cannot use distance 'dot'"),
    (["objective={name: circle, similarity: euclidean}"],
     "objective 'circle' cannot use similarity 'euclidean'.*\\[-1, 1\\]"),
    (["objective={name: circle, similarity: dot, normalize: false}"], "objective 'circle' cannot use similarity 'dot'"),
    (["objective={name: info_nce, similarity: hamming}"], "unknown distance/similarity 'hamming'"),
    (["miner={name: batch_hard}", "objective={name: info_nce}"],
     "miner 'batch_hard' cannot be used with objective 'info_nce'.*triplet"),
    (["miner={name: semi_hard}", "objective={name: triplet}", "view={name: two_view_augment}"],
     "miner 'semi_hard' needs labelled data, but view 'two_view_augment' gives no labels.*fashion_mnist"),
    (["miner={name: mined_all}", "objective={name: triplet}"], "unknown miner 'mined_all'"),
    (["miner={name: semi_hard, width: 0.2}", "objective={name: triplet}"], "unknown key 'miner.width'"),
])
def test_bad_objective_distance_and_miner_combinations_fail_at_config_time(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(BASE, overrides)
    assert any(str(err.value).startswith(f"override {o}: ") for o in overrides)  # the override that set the bad value


def test_good_combinations_load(tmp_path):
    cfg = load_config(BASE, ["objective={name: triplet, distance: manhattan}", "miner={name: semi_hard, margin: 0.2}"])
    assert cfg.miner == {"name": "semi_hard", "margin": 0.2}
    load_config(BASE, ["objective={name: circle, similarity: cosine, normalize: false}"])
    load_config(BASE, ["objective={name: supcon, similarity: euclidean}"])
    from mmcontrast.training.build import build_objective

    objective = build_objective(cfg, embedding_dim=8)
    assert type(objective.miner).__name__ == "SemiHardMiner" and objective.miner.margin == 0.2
    assert objective.kind.name == "manhattan"
