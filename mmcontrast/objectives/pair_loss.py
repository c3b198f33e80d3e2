"""The shared base of the pair and margin losses (triplet, lifted structured, pairwise contrastive, circle,
multi-similarity): one constructor and one ``forward`` preamble, as a template method.

Like pytorch-metric-learning's ``BaseMetricLossFunction``, the base ``forward`` prepares what every such loss reads
and the subclass only computes the loss from it (``loss``):

1. the embeddings of the ``EmbeddingBatch`` (L2-normalised with ``normalize``) as anchors (the local views) and a
   pool (the global batch's views, gathered with gradient, plus the hard negatives), with labels checked
   (``pool.labelled_pool``: labels, or a positive view as a class of its own);
2. the (A, M) anchor x pool matrix of the loss's kind: distances (``distance_key = "distance"``) or similarities
   (``distance_key = "similarity"``);
3. the positive / negative (A, M) pair masks, narrowed by the miner: a pair loss reads the mined pairs, a triplet
   loss (``mined_as = "triplets"``) the mined (T, 3) triplets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F

from ..batch import EmbeddingBatch
from ..negatives import Negatives
from .base import Objective
from .distances import Distance
from .pool import LabelledPool, labelled_pool, mined_pairs, mined_triplets

if TYPE_CHECKING:
    from ..miners import Miner


@dataclass
class PairInputs:
    """What ``PairLoss.forward`` prepares for a subclass's ``loss``.

    Attributes:
        pool: the anchors (A, D) and the pool (M, D) with their labels (``pool.LabelledPool``).
        matrix: (A, M) float32 anchor x pool distances or similarities (the loss's ``distance_key``).
        positive, negative: (A, M) bool pair masks: the mined pairs for a pair loss; for a triplet loss every
            (same label, not itself) and (other label) pair.
        triplets: (T, 3) long (anchor, positive column, negative column) mined for a triplet loss with a miner;
            None otherwise.
    """

    pool: LabelledPool
    matrix: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    triplets: torch.Tensor | None = None


class PairLoss(Objective):
    """Base of the losses over anchor x pool pairs of a labelled batch. Subclasses set ``objective_name``,
    ``distance_key`` (``distance`` or ``similarity``: the constructor keyword and what ``matrix`` holds),
    ``loss_description`` (named in errors) and ``mined_as``, pass their kind, ``normalize``, ``negatives`` and
    ``miner`` to this constructor, and implement ``loss(inputs: PairInputs) -> scalar``.

    Args:
        kind: the similarity/distance kind (``distances.DISTANCES``), checked as at config time.
        normalize: L2-normalise the embeddings first.
        negatives: where the pool comes from (in-batch, gathered across processes, by default).
        miner: injected from the config's ``miner``, or None (every pair; batch-hard for the triplet loss).
    """

    distance_key: ClassVar[str | None] = "distance"
    #: what the loss is called in the error of a batch without labels or positive view
    loss_description: ClassVar[str] = "this loss"
    #: how a miner's selection is read: as pair masks or as (T, 3) triplets
    mined_as: ClassVar[Literal["pairs", "triplets"]] = "pairs"

    def __init__(self, kind: Distance, normalize: bool, negatives: Negatives | None, miner: Miner | None) -> None:
        super().__init__(negatives)
        self.kind = self.resolve_kind(kind, {"normalize": normalize})
        self.normalize = normalize
        self.miner = miner

    def forward(self, batch: EmbeddingBatch) -> torch.Tensor:
        return self.loss(self.prepare(batch))

    def loss(self, inputs: PairInputs) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def compare(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(A, D) x (M, D) -> (A, M) in the loss's terms: distances or similarities (``distance_key``)."""
        return self.kind.similarity(a, b) if self.distance_key == "similarity" else self.kind.distance(a, b)

    def prepare(self, batch: EmbeddingBatch, description: str | None = None) -> PairInputs:
        """Anchors and pool of ``batch``, their (A, M) matrix and the (mined) pair masks or triplets."""
        transform = _l2_normalize if self.normalize else None
        pool = labelled_pool(batch, self.negatives, transform, description or self.loss_description, self)
        matrix = self.compare(pool.anchors, pool.pool)
        closeness = matrix if self.distance_key == "similarity" else -matrix  # larger = closer, for the miner
        positive, negative = pool.masks()
        if self.mined_as == "triplets":
            triplets = None if self.miner is None else mined_triplets(self.miner, closeness, positive, negative)
            return PairInputs(pool, matrix, positive, negative, triplets)
        positive, negative = mined_pairs(self.miner, closeness, positive, negative)
        return PairInputs(pool, matrix, positive, negative)


def _l2_normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)
