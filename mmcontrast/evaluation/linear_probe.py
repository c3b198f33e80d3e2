"""Linear probe: a softmax (multinomial logistic regression) classifier trained on frozen features.

The linear evaluation protocol of self-supervised representation learning (Zhang et al. 2016; Kolesnikov et
al. 2019, "Revisiting Self-Supervised Visual Representation Learning"): the encoder is frozen, its features of
a labelled training split are standardised, a linear classifier is fitted on them and its top-1 accuracy on
the test split measures how linearly separable the representation is. As in the transfer experiments of
SimCLR (Chen et al. 2020, Appendix B.5) and CLIP (Radford et al. 2021, Sec. 3.2), the classifier minimises
the L2-regularised cross-entropy with full-batch L-BFGS by default (convex, deterministic, no learning-rate
schedule to tune); mini-batch Adam minimising the same objective is the alternative for very large splits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .base import Encoder, Evaluator, Inputs, check_inputs, encode, num_inputs
from .inputs import LabelledSection, labelled_inputs
from .probe import LinearSettings, ProbeSettings, check_probe_args

#: Default learning rate per optimiser (L-BFGS takes unit steps scaled by its line search).
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.01}


@dataclass
class LinearProbe:
    """A fitted probe: ``logits(x) = ((x - mean) / std) @ weight + bias``.

    Shapes: ``weight`` (D, C), ``bias`` (C,), ``mean`` and ``std`` (D,) (statistics of the training features;
    a constant feature gets std 1). ``final_loss`` is the regularised training loss at the end.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    final_loss: float

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits (M, C) of features (M, D)."""
        return ((features.float() - self.mean) / self.std) @ self.weight + self.bias

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Predicted classes (M,) (int64) of features (M, D)."""
        return self.logits(features).argmax(dim=1)


def check_labels(labels: Sequence[int] | torch.Tensor, n: int, what: str) -> torch.Tensor:
    """Labels as a CPU int64 tensor (n,) of non-negative class indices; errors name ``what``."""
    tensor = labels.detach().cpu() if isinstance(labels, torch.Tensor) else torch.tensor(list(labels))
    if tensor.dim() != 1 or tensor.shape[0] != n:
        raise ValueError(f"{what} must have shape ({n},) (one label per input), got {tuple(tensor.shape)}")
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{what} must be integer class indices, got dtype {tensor.dtype}")
    tensor = tensor.long()
    if n and int(tensor.min()) < 0:
        raise ValueError(f"{what} must be >= 0, found {int(tensor.min())}")
    return tensor


def _check_features(features: torch.Tensor, labels: torch.Tensor, what: str) -> None:
    if features.dim() != 2:
        raise ValueError(f"{what} features must be 2-D (N, D), got {tuple(features.shape)}")
    if features.shape[0] == 0:
        raise ValueError(f"{what} features are empty (N = 0)")
    if labels.dim() != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(f"{what} labels must have shape ({features.shape[0]},), got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"{what} labels must be integer class indices, got dtype {labels.dtype}")
    if int(labels.min()) < 0:
        raise ValueError(f"{what} labels must be >= 0, found {int(labels.min())}")
    if not bool(torch.isfinite(features).all()):
        raise ValueError(f"{what} features contain nan or inf")


def fit_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int | None = None,
    epochs: int = 100,
    lr: float | None = None,
    weight_decay: float = 1e-3,
    batch_size: int = 1024,
    optimizer: str = "lbfgs",
    seed: int = 0,
) -> LinearProbe:
    """Fit a linear softmax classifier on standardised frozen features.

    Minimises ``mean_i CE(W^T z_i + b, y_i) + weight_decay / 2 * ||W||_F^2`` (bias not penalised) where
    ``z = (x - mean) / std`` uses the statistics of ``features``; W and b start at zero.

    Args:
        features: (N, D) training features.
        labels: (N,) integer classes.
        num_classes: C; defaults to ``1 + labels.max()``.
        epochs: passes over the data: for ``lbfgs`` the maximum number of full-batch loss evaluations (each
            one pass; L-BFGS stops earlier when converged), for ``adam`` the number of shuffled epochs.
        lr: step size; None: 1.0 for L-BFGS (with strong-Wolfe line search), 0.01 for Adam (cosine-decayed
            to 0 over training).
        weight_decay: L2 strength on W (the same objective for both optimisers).
        batch_size: mini-batch size (``adam`` only).
        optimizer: ``lbfgs`` or ``adam``.
        seed: shuffling seed (``adam``); L-BFGS is deterministic without it.

    Cost: O(epochs * N * D * C); 60,000 x 784 raw Fashion-MNIST pixels take a few seconds on 2 CPU cores.
    """
    check_probe_args(epochs, lr, weight_decay, batch_size, optimizer)
    _check_features(features, labels, "train")
    x = features.detach().float().cpu()
    y = labels.detach().cpu().long()
    classes = int(y.max()) + 1 if num_classes is None else num_classes
    if classes < int(y.max()) + 1:
        raise ValueError(f"num_classes={num_classes} but train labels go up to {int(y.max())}")
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-6 * std.max().clamp_min(1e-12), std, torch.ones_like(std))
    z = (x - mean) / std  # (N, D)
    weight = torch.zeros(x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    step = DEFAULT_LR[optimizer] if lr is None else float(lr)

    def objective(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(inputs @ weight + bias, targets)
        return loss + 0.5 * weight_decay * weight.pow(2).sum() if weight_decay else loss

    if optimizer == "lbfgs":
        lbfgs = torch.optim.LBFGS([weight, bias], lr=step, max_iter=epochs, max_eval=epochs, history_size=20,
                                  tolerance_grad=1e-7, tolerance_change=1e-10, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            lbfgs.zero_grad()
            loss = objective(z, y)
            loss.backward()
            return loss

        lbfgs.step(closure)
    else:
        adam = torch.optim.Adam([weight, bias], lr=step)
        steps_per_epoch = math.ceil(z.shape[0] / batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=epochs * steps_per_epoch)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(z.shape[0], generator=generator)
            for start in range(0, z.shape[0], batch_size):
                rows = order[start : start + batch_size]
                adam.zero_grad()
                objective(z[rows], y[rows]).backward()
                adam.step()
                schedule.step()
    with torch.no_grad():
        final = float(objective(z, y))
    return LinearProbe(weight.detach(), bias.detach(), mean, std, final)


def linear_probe_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    num_classes: int | None = None,
    **fit_args: Any,
) -> float:
    """Top-1 test accuracy of a linear probe fitted on the training split by ``fit_linear_probe``.

    ``train_features`` (N, D), ``train_labels`` (N,), ``test_features`` (M, D), ``test_labels`` (M,);
    ``num_classes`` defaults to ``1 + max`` label over both splits; ``fit_args``: the probe settings of
    ``fit_linear_probe`` (``epochs``, ``lr``, ``weight_decay``, ``batch_size``, ``optimizer``, ``seed``).
    """
    _check_features(train_features, train_labels, "train")
    _check_features(test_features, test_labels, "test")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"train and test features differ in dimension: {train_features.shape[1]} vs "
                         f"{test_features.shape[1]}")
    top = 1 + max(int(train_labels.max()), int(test_labels.max()))
    if num_classes is not None and num_classes < top:
        raise ValueError(f"num_classes={num_classes} but labels go up to {top - 1}")
    num_classes = top if num_classes is None else num_classes
    probe = fit_linear_probe(train_features, train_labels, num_classes, **fit_args)
    predicted = probe.predict(test_features.detach().cpu())
    return float((predicted == test_labels.detach().cpu().long()).float().mean())


class LinearProbeEvaluator(Evaluator):
    """Linear-probe top-1 accuracy of frozen embeddings: ``{f"{name}/accuracy": ...}`` (higher is better).

    ``train_inputs`` (N texts or images (N, C, H, W)) with ``train_labels`` (N,) train the probe;
    ``test_inputs`` with ``test_labels`` (M,) measure it. Both splits are encoded once per call with
    ``model.encode``; a model whose features are not finite gets nan. ``probe``: the linear-probe settings of
    ``ProbeSettings`` (``fit_linear_probe``; ``k`` and ``temperature`` are not used).
    """

    primary = "accuracy"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(LinearSettings, LabelledSection):
        """Config keys of evaluator ``linear_probe``: the probe is trained on the ``train`` split's standardised
        features and measured on ``test``. ``batch_size`` is the encoding batch; ``probe_batch_size`` the Adam
        mini-batch (``optimizer: adam``); ``epochs`` caps the full-batch L-BFGS evaluations (default) or counts
        Adam epochs."""

        prefix: str = "linear"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The checked ``probe`` settings of evaluator ``linear_probe`` and its labelled splits."""
        return {"probe": ProbeSettings.linear_of(section, "linear_probe"), **labelled_inputs(section, "linear_probe")}

    def __init__(self, train_inputs: Inputs, train_labels: Sequence[int] | torch.Tensor, test_inputs: Inputs,
                 test_labels: Sequence[int] | torch.Tensor, probe: ProbeSettings | None = None,
                 name: str = "linear", batch_size: int = 256) -> None:
        super().__init__(name, batch_size)
        owner = type(self).__name__
        self.train_inputs = check_inputs(train_inputs, f"{owner} train_inputs")
        self.test_inputs = check_inputs(test_inputs, f"{owner} test_inputs")
        self.train_labels = check_labels(train_labels, num_inputs(self.train_inputs), f"{owner}: train_labels")
        self.test_labels = check_labels(test_labels, num_inputs(self.test_inputs), f"{owner}: test_labels")
        self.probe = probe if probe is not None else ProbeSettings()
        self.probe.check_linear(owner)
        self.num_classes = 1 + max(int(self.train_labels.max()), int(self.test_labels.max()))

    def __call__(self, model: Encoder) -> dict[str, float]:
        train = encode(model, self.train_inputs, self.batch_size, f"{self.name} train_inputs")
        test = encode(model, self.test_inputs, self.batch_size, f"{self.name} test_inputs")
        if not (bool(torch.isfinite(train).all()) and bool(torch.isfinite(test).all())):
            return {self.key("accuracy"): float("nan")}  # a diverged model
        accuracy = linear_probe_accuracy(train, self.train_labels, test, self.test_labels, self.num_classes,
                                         **self.probe.linear_args())
        return {self.key("accuracy"): accuracy}
