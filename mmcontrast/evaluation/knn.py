"""Weighted k-nearest-neighbour classification on frozen features.

Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance Discrimination" (Sec. 3.4): the
features of a labelled training set form a memory; a test sample is classified by its k most
cosine-similar training samples, each voting for its own class with weight ``exp(sim / temperature)``.
The monitoring protocol of InstDisc, MoCo and SimCLR-style papers (k=200, temperature=0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .base import Encoder, Evaluator, Inputs, check_inputs, encode, num_inputs
from .inputs import LabelledSection, labelled_inputs
from .probe import KNNSettings, ProbeSettings


def _check_knn_args(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                    num_classes: int, k: int, temperature: float, chunk_size: int) -> None:
    if train_features.dim() != 2 or test_features.dim() != 2:
        raise ValueError(f"features must be 2-D (N, D): train {tuple(train_features.shape)}, "
                         f"test {tuple(test_features.shape)}")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"train and test features differ in dimension: {train_features.shape[1]} vs "
                         f"{test_features.shape[1]}")
    if train_features.shape[0] == 0:
        raise ValueError("no training features: the kNN memory is empty")
    if train_labels.dim() != 1 or train_labels.shape[0] != train_features.shape[0]:
        raise ValueError(f"train_labels must have shape ({train_features.shape[0]},), got {tuple(train_labels.shape)}")
    if train_labels.dtype.is_floating_point or train_labels.dtype == torch.bool or train_labels.is_complex():
        raise TypeError(f"train_labels must be integer class indices, got dtype {train_labels.dtype}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    low, high = int(train_labels.min()), int(train_labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"train_labels must lie in [0, {num_classes - 1}], found values in [{low}, {high}]")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")


def weighted_knn_scores(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                        num_classes: int, k: int = 200, temperature: float = 0.1,
                        chunk_size: int = 1024) -> torch.Tensor:
    """Class scores (M, C) of the weighted kNN vote of Wu et al. (2018), each row normalised to sum 1.

    Args:
        train_features: (N, D) memory features (any scale: rows are L2-normalised here).
        train_labels: (N,) integer classes in ``[0, num_classes)``.
        test_features: (M, D) query features (L2-normalised here).
        num_classes: C.
        k: neighbours per query; clipped to N when larger.
        temperature: tau in the vote weight ``exp(cos / tau)``.
        chunk_size: test rows processed at once; bounds memory to O(chunk_size * N).

    Row ``i`` is ``score[c] = sum_{j in topk(i), y_j = c} exp(s_ij / tau)`` divided by the row sum, with
    ``s_ij`` the cosine similarity. (Weights are computed as ``exp((s_ij - max_j s_ij) / tau)``, which leaves
    the normalised scores unchanged and never overflows for small ``tau``.)
    """
    _check_knn_args(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float().to(train.device), dim=1)
    labels = train_labels.to(device=train.device, dtype=torch.long)
    k = min(k, train.shape[0])
    out = torch.empty(test.shape[0], num_classes, dtype=torch.float32, device=train.device)
    for start in range(0, test.shape[0], chunk_size):
        sim = test[start : start + chunk_size] @ train.T  # (c, N)
        top_sim, top_idx = sim.topk(k, dim=1)  # (c, k), sorted: column 0 is the row maximum
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()  # (c, k), in (0, 1]
        votes = torch.zeros(sim.shape[0], num_classes, dtype=torch.float32, device=train.device)
        votes.scatter_add_(1, labels[top_idx], weights)  # (c, C)
        out[start : start + chunk_size] = votes / votes.sum(dim=1, keepdim=True)
    return out


def weighted_knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                         num_classes: int, k: int = 200, temperature: float = 0.1,
                         chunk_size: int = 1024) -> torch.Tensor:
    """Predicted labels (M,) (int64) of the weighted kNN classifier of Wu et al. (2018).

    ``train_features`` (N, D), ``train_labels`` (N,), ``test_features`` (M, D): see ``weighted_knn_scores``.
    Each test row takes the class with the largest summed weight ``exp(cos / temperature)`` over its
    ``min(k, N)`` most cosine-similar training rows; an exact tie goes to the smallest class index.
    """
    scores = weighted_knn_scores(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    return scores.argmax(dim=1)


def _labels(labels: Sequence[int] | torch.Tensor, n: int, what: str) -> torch.Tensor:
    tensor = labels.detach().cpu() if isinstance(labels, torch.Tensor) else torch.tensor(list(labels))
    if tensor.dim() != 1 or tensor.shape[0] != n:
        raise ValueError(f"KNNEvaluator: {what} must have shape ({n},) (one per input), got {tuple(tensor.shape)}")
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"KNNEvaluator: {what} must be integer class indices, got dtype {tensor.dtype}")
    tensor = tensor.long()
    if int(tensor.min()) < 0:
        raise ValueError(f"KNNEvaluator: {what} must be >= 0, found {int(tensor.min())}")
    return tensor


class KNNEvaluator(Evaluator):
    """Weighted kNN top-1 accuracy (Wu et al. 2018) of frozen embeddings: ``{f"{name}/accuracy": ...}``.

    ``train_inputs`` (N texts or images (N, C, H, W)) with ``train_labels`` (N,) form the memory;
    ``test_inputs`` with ``test_labels`` (M,) are classified by ``probe.k`` and ``probe.temperature``
    (``ProbeSettings``; its linear-probe settings are not used). Both sets are re-encoded with ``model.encode`` at
    every call. ``num_classes`` defaults to ``1 + max`` label over both sets. Higher is better.
    """

    primary = "accuracy"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(KNNSettings, LabelledSection):
        """Config keys of evaluator ``knn``: ``train`` is the labelled memory, ``test`` the queries (both dataset
        components, e.g. ``{name: sklearn_digits, split: test}``)."""

        prefix: str = "knn"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The labelled splits of evaluator ``knn`` and its ``probe`` settings."""
        return {**labelled_inputs(section, "knn"), "probe": ProbeSettings.of(section)}

    def __init__(self, train_inputs: Inputs, train_labels: Sequence[int] | torch.Tensor, test_inputs: Inputs,
                 test_labels: Sequence[int] | torch.Tensor, probe: ProbeSettings | None = None,
                 name: str = "knn", batch_size: int = 256, num_classes: int | None = None,
                 chunk_size: int = 1024) -> None:
        super().__init__(name, batch_size)
        self.train_inputs = check_inputs(train_inputs, "KNNEvaluator train_inputs")
        self.test_inputs = check_inputs(test_inputs, "KNNEvaluator test_inputs")
        self.train_labels = _labels(train_labels, num_inputs(self.train_inputs), "train_labels")
        self.test_labels = _labels(test_labels, num_inputs(self.test_inputs), "test_labels")
        inferred = 1 + max(int(self.train_labels.max()), int(self.test_labels.max()))
        if num_classes is not None and num_classes < inferred:
            raise ValueError(f"KNNEvaluator: num_classes={num_classes} but labels go up to {inferred - 1}")
        self.probe = probe if probe is not None else ProbeSettings()
        self.probe.check_knn("KNNEvaluator")
        self.num_classes = num_classes if num_classes is not None else inferred
        self.chunk_size = chunk_size

    def __call__(self, model: Encoder) -> dict[str, float]:
        train = encode(model, self.train_inputs, self.batch_size, "knn train_inputs")
        test = encode(model, self.test_inputs, self.batch_size, "knn test_inputs")
        if not (bool(torch.isfinite(train).all()) and bool(torch.isfinite(test).all())):
            return {self.key("accuracy"): float("nan")}  # a diverged model: no meaningful neighbours
        predicted = weighted_knn_predict(train, self.train_labels, test, self.num_classes, self.probe.k,
                                         self.probe.temperature, self.chunk_size)
        return {self.key("accuracy"): float((predicted == self.test_labels).float().mean())}
