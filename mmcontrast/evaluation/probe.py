"""``ProbeSettings``: the settings of the frozen-feature probes, shared by the kNN, linear-probe, frozen-features
and layer-probe evaluators (and the keys of their config sections).

kNN: the weighted vote of Wu et al. 2018 (``k`` neighbours, weights ``exp(cos / temperature)``); linear probe:
the softmax classifier of ``fit_linear_probe`` (Kolesnikov et al. 2019; Chen et al. 2020), fitted for ``epochs``
with ``optimizer`` (``lbfgs`` or ``adam``), ``lr``, ``weight_decay``, ``probe_batch_size`` (Adam) and ``seed``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: Optimisers of the linear probe: full-batch L-BFGS (default) or mini-batch Adam.
OPTIMIZERS = ("lbfgs", "adam")


def check_probe_args(epochs: int, lr: float | None, weight_decay: float, batch_size: int, optimizer: str,
                     what: str = "linear probe") -> None:
    """Validate the probe's hyper-parameters (called at construction, so that a bad config fails early)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{what}: optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"{what}: epochs must be a positive integer, got {epochs!r}")
    if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{what}: lr must be > 0 (or null for the optimizer's default), got {lr!r}")
    if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"{what}: weight_decay must be >= 0, got {weight_decay!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive integer, got {batch_size!r}")


@dataclass(kw_only=True)
class KNNSettings:
    """kNN settings of a frozen-feature probe (``weighted_knn_predict``): ``k`` neighbours, ``temperature``."""

    k: int = 200
    temperature: float = 0.1


@dataclass(kw_only=True)
class LinearSettings:
    """Linear-probe settings of a frozen-feature probe (``fit_linear_probe``; ``probe_batch_size`` is its Adam
    mini-batch)."""

    epochs: int = 100
    lr: float | None = None
    weight_decay: float = 1e-3
    optimizer: str = "lbfgs"
    probe_batch_size: int = 1024
    seed: int = 0


@dataclass(kw_only=True)
class ProbeSettings(LinearSettings, KNNSettings):
    """kNN (``k``, ``temperature``) and linear-probe (``epochs`` .. ``seed``) settings of a frozen-feature probe."""

    @classmethod
    def of(cls, section: Any) -> ProbeSettings:
        """The probe settings among the attributes of a config section (those it lacks keep their default)."""
        return cls(**{f.name: getattr(section, f.name) for f in dataclasses.fields(cls) if hasattr(section, f.name)})

    @classmethod
    def linear_of(cls, section: Any, evaluator: str) -> ProbeSettings:
        """``of(section)`` checked by ``check_linear``; errors name ``<evaluator> evaluator '<section.prefix>'``."""
        probe = cls.of(section)
        probe.check_linear(f"{evaluator} evaluator '{section.prefix}'")
        return probe

    def check_knn(self, owner: str) -> None:
        """ValueError naming ``owner`` unless ``k`` is a positive integer and ``temperature`` > 0."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"{owner}: k must be a positive integer, got {self.k!r}")
        if not self.temperature > 0:
            raise ValueError(f"{owner}: temperature must be > 0, got {self.temperature!r}")

    def check_linear(self, owner: str) -> None:
        """ValueError naming ``owner`` for a bad linear-probe setting (``check_probe_args``)."""
        check_probe_args(self.epochs, self.lr, self.weight_decay, self.probe_batch_size, self.optimizer, owner)

    def linear_args(self) -> dict[str, Any]:
        """Keyword arguments of ``linear_probe_accuracy`` / ``fit_linear_probe``."""
        return dict(epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay, batch_size=self.probe_batch_size,
                    optimizer=self.optimizer, seed=self.seed)
