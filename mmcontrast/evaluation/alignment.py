"""Alignment and uniformity of embeddings on the unit hypersphere.

Wang & Isola 2020, "Understanding Contrastive Representation Learning through Alignment and Uniformity on
the Hypersphere" (ICML): alignment is the expected distance between the embeddings of positive pairs,
uniformity the log of the average Gaussian potential between all embeddings. Lower is better for both;
SimCSE (Gao et al. 2021) reports them on STS-B pairs with a score >= 4.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Encoder, Evaluator, Inputs, check_inputs, encode, encode_unique_texts, num_inputs


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """Alignment loss: ``mean_i ||x_i - y_i||_2 ** alpha`` over L2-normalised rows (a 0-d tensor).

    ``x`` and ``y`` are (N, D) with row ``i`` of each forming positive pair ``i``. 0 for identical
    directions, ``2 ** alpha`` (4 for alpha=2) for antipodal ones.
    """
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"alignment: x and y must both be (N, D) with the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if x.shape[0] == 0:
        raise ValueError("alignment: no pairs (N = 0)")
    if not alpha > 0:
        raise ValueError(f"alignment: alpha must be > 0, got {alpha}")
    x, y = F.normalize(x.float(), dim=1), F.normalize(y.float(), dim=1)
    return (x - y).norm(p=2, dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """Uniformity loss: ``log mean_{i<j} exp(-t ||x_i - x_j||_2 ** 2)`` over L2-normalised rows (0-d tensor).

    ``x`` is (N, D), N >= 2; the N (N - 1) / 2 pairwise distances come from ``torch.pdist`` (memory
    O(N^2)). 0 when all rows point the same way; more negative the more uniformly they spread (for t=2,
    uniformly distributed points on a high-dimensional sphere approach -4). Computed with ``logsumexp``.
    """
    if x.dim() != 2:
        raise ValueError(f"uniformity: x must be (N, D), got {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"uniformity: needs at least 2 rows, got {x.shape[0]}")
    if not t > 0:
        raise ValueError(f"uniformity: t must be > 0, got {t}")
    x = F.normalize(x.float(), dim=1)
    sq_dist = torch.pdist(x, p=2).pow(2)  # (N (N - 1) / 2,)
    return torch.logsumexp(-t * sq_dist, dim=0) - math.log(sq_dist.numel())


class AlignmentUniformityEvaluator(Evaluator):
    """Wang & Isola (2020) alignment (alpha=2, primary) and uniformity (t=2) of an encoder's embeddings.

    ``pairs_a[i]`` and ``pairs_b[i]`` are a positive pair (texts, or images (N, C, H, W): e.g. two augmented
    views). Uniformity is measured on ``uniform_inputs`` (texts or images); when None, on the distinct
    texts of both sides, or for images on the embeddings of both sides together. Returns
    ``{f"{name}/alignment": ..., f"{name}/uniformity": ...}``; lower is better for both.
    Texts are deduplicated and encoded once across all three inputs.
    """

    primary = "alignment"
    higher_is_better = False

    def __init__(self, pairs_a: Inputs, pairs_b: Inputs, uniform_inputs: Inputs | None = None,
                 name: str = "align_uniform", batch_size: int = 128) -> None:
        super().__init__(name, batch_size)
        self.pairs_a = check_inputs(pairs_a, f"{type(self).__name__} pairs_a")
        self.pairs_b = check_inputs(pairs_b, f"{type(self).__name__} pairs_b")
        if num_inputs(self.pairs_a) != num_inputs(self.pairs_b):
            raise ValueError(f"{type(self).__name__}: pairs_a and pairs_b must have the same length, got "
                             f"{num_inputs(self.pairs_a)} and {num_inputs(self.pairs_b)}")
        self.uniform_inputs = (None if uniform_inputs is None
                               else check_inputs(uniform_inputs, f"{type(self).__name__} uniform_inputs"))
        if self.uniform_inputs is not None:
            n_uniform = num_inputs(self.uniform_inputs)
        elif isinstance(self.pairs_a, torch.Tensor) or isinstance(self.pairs_b, torch.Tensor):
            n_uniform = 2 * num_inputs(self.pairs_a)
        else:
            n_uniform = len(self._texts(self.pairs_a, self.pairs_b))
        if n_uniform < 2:
            raise ValueError(f"{type(self).__name__}: uniformity needs at least 2 distinct inputs, got {n_uniform}")

    @staticmethod
    def _texts(*groups: Inputs | None) -> dict[str, None]:
        """Distinct texts (in order of first occurrence) of the text groups among ``groups``."""
        return dict.fromkeys(s for g in groups if g is not None and not isinstance(g, torch.Tensor) for s in g)

    def __call__(self, model: Encoder) -> dict[str, float]:
        texts = list(self._texts(self.pairs_a, self.pairs_b, self.uniform_inputs))
        text_emb, row_of = (encode_unique_texts(model, texts, self.batch_size, "align_uniform texts")
                            if texts else (None, {}))

        def embed(inputs: Inputs, what: str) -> torch.Tensor:
            if isinstance(inputs, torch.Tensor):
                return encode(model, inputs, self.batch_size, what)
            assert text_emb is not None
            return text_emb[torch.tensor([row_of[s] for s in inputs], dtype=torch.long)]

        a = embed(self.pairs_a, "align_uniform pairs_a")
        b = embed(self.pairs_b, "align_uniform pairs_b")
        if self.uniform_inputs is not None:
            u = embed(self.uniform_inputs, "align_uniform uniform_inputs")
        elif isinstance(self.pairs_a, torch.Tensor) or isinstance(self.pairs_b, torch.Tensor):
            u = torch.cat([a, b])
        else:
            u = embed(list(self._texts(self.pairs_a, self.pairs_b)), "align_uniform texts")
        return {
            self.key("alignment"): float(alignment(a, b, alpha=2)),
            self.key("uniformity"): float(uniformity(u, t=2)),
        }
