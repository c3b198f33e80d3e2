"""The fused float32 InfoNCE kernel equals the plain autograd composition (matmul, scale, mask, cross-entropy) in
value and in every gradient: queries, candidates and a learnable temperature, with and without excluded entries
(NT-Xent), and survives a retained graph's second backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmcontrast.objectives import info_nce
from mmcontrast.objectives.info_nce_kernel import can_fuse, fused_dot_info_nce


def reference(query, candidates, positive_index, scale, exclude_index=None):
    logits = (query @ candidates.T) * scale
    if exclude_index is not None:
        mask = torch.zeros_like(logits, dtype=torch.bool)
        mask[torch.arange(len(query)), exclude_index] = True
        logits = logits.masked_fill(mask, torch.finfo(logits.dtype).min)
    return F.cross_entropy(logits, positive_index)


def leaves(gen, b, m, d=16):
    q = F.normalize(torch.randn(b, d, generator=gen), dim=-1).requires_grad_()
    c = F.normalize(torch.randn(m, d, generator=gen), dim=-1).requires_grad_()
    log_scale = torch.tensor(2.5, requires_grad=True)
    return q, c, log_scale


@pytest.mark.parametrize("exclude", [False, True], ids=["info_nce", "nt_xent_exclusion"])
def test_fused_kernel_matches_autograd_reference(exclude):
    gen = torch.Generator().manual_seed(0)
    b, m = 12, 20
    positive = torch.randint(0, m, (b,), generator=gen)
    excluded = (positive + 1) % m if exclude else None
    results = []
    for fn in (reference, fused_dot_info_nce):
        q, c, log_scale = leaves(torch.Generator().manual_seed(1), b, m)
        loss = fn(q, c, positive, log_scale.exp(), excluded)
        loss.backward()
        results.append((loss.detach(), q.grad, c.grad, log_scale.grad))
    for got, want in zip(results[1], results[0]):
        assert torch.allclose(got, want, atol=1e-6, rtol=1e-5)
    assert results[0][1].abs().max() > 1e-3 and results[0][3].abs() > 1e-4


def test_info_nce_takes_the_fused_path_for_large_float32_logits_only_and_agrees():
    gen = torch.Generator().manual_seed(2)
    q, c, _ = leaves(gen, 1024, 1024)
    assert can_fuse(q, c) and not can_fuse(q[:6], c[:6])  # 2^20 logits: fused; 36: the plain composition
    assert not can_fuse(q.half(), c.half()) and not can_fuse(q.bfloat16(), c)
    index = torch.arange(1024)
    assert info_nce(q, c, index, 0.05).item() == pytest.approx(reference(q, c, index, 20.0).item(), rel=1e-6)
    low = info_nce(q[:6].bfloat16(), c[:6].bfloat16(), index[:6], 0.05)  # reference path, finite
    assert low.dtype == torch.float32 and torch.isfinite(low)


def test_retained_graph_backpropagates_twice_to_the_same_gradient():
    q, c, log_scale = leaves(torch.Generator().manual_seed(3), 8, 8)
    loss = fused_dot_info_nce(q, c, torch.arange(8), log_scale.exp(), torch.arange(8).roll(1))
    loss.backward(retain_graph=True)
    first = q.grad.clone()
    loss.backward()
    assert torch.allclose(q.grad, 2 * first, atol=1e-7)
