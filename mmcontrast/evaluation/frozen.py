"""Frozen-feature evaluation from one encoding: weighted kNN, linear probe and optionally a neighbour grid.

Encoding is the expensive part of frozen-feature evaluation (60,000 training images through a CNN); the kNN
monitor (Wu et al. 2018) and the linear probe (Kolesnikov et al. 2019; Chen et al. 2020) both read the same
features, so this evaluator encodes each split once and runs both (and the nearest-neighbour grid when a
``grid_path`` is given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from .base import Encoder, Evaluator, Inputs, check_inputs, encode, num_inputs
from .knn import weighted_knn_predict
from .inputs import LabelledSection, labelled_inputs
from .linear_probe import check_labels, linear_probe_accuracy
from .neighbours import NeighbourGridEvaluator
from .probe import ProbeSettings


class FrozenFeaturesEvaluator(Evaluator):
    """Weighted kNN accuracy (primary) and linear-probe accuracy from one encoding of each split.

    ``train_inputs`` (N texts or images (N, C, H, W)) with ``train_labels`` (N,) are the kNN memory and the
    probe's training set; ``test_inputs`` with ``test_labels`` (M,) are classified. Returns
    ``{f"{name}/knn_accuracy", f"{name}/linear_accuracy"}`` and, with ``grid_path`` (image inputs only),
    ``f"{name}/precision_at_k"`` from a ``NeighbourGridEvaluator`` drawn from the same features.
    ``probe``: the kNN (``weighted_knn_predict``) and linear-probe (``fit_linear_probe``) settings of
    ``ProbeSettings``; its ``seed`` also picks the grid's queries. Non-finite features give nan.
    """

    primary = "knn_accuracy"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(ProbeSettings, LabelledSection):
        """Config keys of evaluator ``frozen_features``: the probe settings of ``ProbeSettings``; with
        ``grid_path`` also the neighbour grid PNG (``grid_queries`` queries, ``grid_k`` neighbours each)."""

        grid_path: str | None = None
        grid_queries: int = 8
        grid_k: int = 8
        prefix: str = "probe"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The checked ``probe`` settings of evaluator ``frozen_features`` and its labelled splits."""
        return {"probe": ProbeSettings.linear_of(section, "frozen_features"),
                **labelled_inputs(section, "frozen_features")}

    def __init__(self, train_inputs: Inputs, train_labels: Sequence[int] | torch.Tensor, test_inputs: Inputs,
                 test_labels: Sequence[int] | torch.Tensor, probe: ProbeSettings | None = None,
                 grid_path: str | None = None, grid_queries: int = 8, grid_k: int = 8,
                 name: str = "probe", batch_size: int = 256, chunk_size: int = 1024) -> None:
        super().__init__(name, batch_size)
        owner = type(self).__name__
        self.train_inputs = check_inputs(train_inputs, f"{owner} train_inputs")
        self.test_inputs = check_inputs(test_inputs, f"{owner} test_inputs")
        self.train_labels = check_labels(train_labels, num_inputs(self.train_inputs), f"{owner}: train_labels")
        self.test_labels = check_labels(test_labels, num_inputs(self.test_inputs), f"{owner}: test_labels")
        self.probe = probe if probe is not None else ProbeSettings()
        self.probe.check_knn(owner)
        self.probe.check_linear(owner)
        self.chunk_size = chunk_size
        self.num_classes = 1 + max(int(self.train_labels.max()), int(self.test_labels.max()))
        self.grid = None if grid_path is None else NeighbourGridEvaluator(
            self.train_inputs, self.train_labels, self.test_inputs, self.test_labels,  # type: ignore[arg-type]
            path=grid_path, num_queries=grid_queries, k=grid_k, seed=self.probe.seed, name=name,
            batch_size=batch_size)

    def __call__(self, model: Encoder) -> dict[str, float]:
        train = encode(model, self.train_inputs, self.batch_size, f"{self.name} train_inputs")
        test = encode(model, self.test_inputs, self.batch_size, f"{self.name} test_inputs")
        keys = ["knn_accuracy", "linear_accuracy"] + (["precision_at_k"] if self.grid is not None else [])
        if not (bool(torch.isfinite(train).all()) and bool(torch.isfinite(test).all())):
            return {self.key(key): float("nan") for key in keys}  # a diverged model
        predicted = weighted_knn_predict(train, self.train_labels, test, self.num_classes, self.probe.k,
                                         self.probe.temperature, self.chunk_size)
        result = {
            self.key("knn_accuracy"): float((predicted == self.test_labels).float().mean()),
            self.key("linear_accuracy"): linear_probe_accuracy(
                train, self.train_labels, test, self.test_labels, self.num_classes, **self.probe.linear_args()),
        }
        if self.grid is not None:
            result[self.key("precision_at_k")] = self.grid.render(train, test[self.grid.query_index])
        return result
