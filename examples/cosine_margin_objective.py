"""A new objective in one file: InfoNCE with an additive cosine margin on the positive (CosFace, Wang et al. 2018,
"CosFace: Large Margin Cosine Loss for Deep Face Recognition"; the same margin as AM-Softmax).

This is the worked example of ``docs/extending.md``: a class on the ``Objective`` base, one registry line at the
bottom, and ``tests/test_extending_example.py`` trains it through the normal ``train()`` entry point. Import this
module before ``load_config`` / ``train`` (or from your own package's ``__init__``) and a config can say
``objective: {name: cosine_margin, margin: 0.2}``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.negatives import Negatives
from mmcontrast.objectives import OBJECTIVES, Objective


def cosine_margin(query: torch.Tensor, candidates: torch.Tensor, positive_index: torch.Tensor,
                  margin: float = 0.2, temperature: float = 0.05) -> torch.Tensor:
    """Mean large-margin cosine InfoNCE of B queries over a shared candidate pool.

    loss_i = -log( exp((cos(q_i, c_{p_i}) - m) / tau) / (exp((cos(q_i, c_{p_i}) - m) / tau)
                                                          + sum_{j != p_i} exp(cos(q_i, c_j) / tau)) )

    Args:
        query: (B, D) anchors (any scale: rows are L2-normalised here).
        candidates: (M, D) the pool; row ``positive_index[i]`` is query i's positive, every other row a negative.
        positive_index: (B,) long.
        margin: m, subtracted from each positive's cosine (0 gives InfoNCE with cosine similarity).
        temperature: tau.

    Returns:
        Scalar loss (float32).
    """
    cosine = F.normalize(query.float(), dim=-1) @ F.normalize(candidates.float(), dim=-1).T  # (B, M)
    rows = torch.arange(query.shape[0], device=query.device)
    cosine = cosine.index_put((rows, positive_index), cosine[rows, positive_index] - margin)
    return F.cross_entropy(cosine / temperature, positive_index)


class CosineMargin(Objective):
    """``cosine_margin`` over ``EmbeddingBatch(query, positive, negatives?)``; candidates (the other positives of the
    global batch, hard negatives, a queue, ...) come from the composed ``negatives`` as for ``info_nce``.

    Args:
        margin: additive cosine margin on the positive (CosFace uses 0.35 with a scale of 64, i.e. tau = 1/64).
        temperature: tau.
        negatives: candidate source, injected from the config's ``negatives`` (in-batch, gathered, by default).
    """

    #: how the model card describes this component (one line), the paper's BibTeX and the Hub tags it adds
    card_summary = (
        "Large-margin cosine InfoNCE (Wang et al., 2018): each positive's cosine lowered by a margin before the "
        "softmax over all candidates"
    )
    citation = """@inproceedings{wang2018cosface,
  title = {{CosFace}: Large Margin Cosine Loss for Deep Face Recognition},
  author = {Wang, Hao and Wang, Yitong and Zhou, Zheng and Ji, Xing and Gong, Dihong and Zhou, Jingchao and
            Li, Zhifeng and Liu, Wei},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2018}
}"""
    tags = ("cosine-margin",)

    objective_name = "cosine_margin"

    def __init__(self, margin: float = 0.2, temperature: float = 0.05, negatives: Negatives | None = None) -> None:
        super().__init__(negatives)
        if not 0.0 <= margin < 2.0:
            raise ValueError(f"cosine_margin: margin must be in [0, 2), got {margin}")
        if temperature <= 0:
            raise ValueError(f"cosine_margin: temperature must be > 0, got {temperature}")
        self.margin = margin
        self.temperature = temperature

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        if batch.positive is None:
            raise ValueError("cosine_margin needs a positive view for every query (EmbeddingBatch.positive is None)")
        candidates, positive_index = self.negatives.candidates(batch.positive, batch.negatives, batch.indices)
        self.require_negatives(candidates.shape[0])
        return cosine_margin(batch.query, candidates, positive_index, self.margin, self.temperature)


OBJECTIVES.register("cosine_margin")(CosineMargin)
