"""Evaluator contract: ``Encoder`` (what an evaluator may call), ``Evaluator`` (what it must provide) and
``run_evaluators`` (run several on one model and merge their metrics).

Every evaluator is a callable ``evaluator(model) -> dict[str, float]`` whose keys are all
``f"{evaluator.name}/{metric}"``; ``evaluator.primary_metric`` is the full key of its main metric and
``evaluator.higher_is_better`` says in which direction that metric improves. Evaluators know nothing about
tokenizers or Hugging Face models: they only call ``model.encode``.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import math
from typing import Any, ClassVar, Iterable, Protocol, Sequence, Union, runtime_checkable

import torch

#: What ``Encoder.encode`` accepts: N texts, or an image tensor (N, C, H, W) of uint8 or float values.
Inputs = Union[Sequence[str], torch.Tensor]


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds inputs: ``encode(inputs, batch_size) -> (N, D)`` float32 CPU tensor.

    ``inputs`` is either a list of N strings (text) or an image tensor (N, C, H, W) (uint8 or float).
    Row ``i`` of the result is the embedding of ``inputs[i]``.
    """

    def encode(self, inputs: Inputs, batch_size: int = 128) -> torch.Tensor:  # pragma: no cover - protocol
        ...


class Evaluator(abc.ABC):
    """Base class of evaluators: ``__call__(model) -> {f"{name}/{metric}": value}``.

    Subclasses set the class attributes ``higher_is_better`` and ``primary`` (the short name of the main
    metric) and implement ``__call__``; ``primary_metric`` is then ``f"{name}/{primary}"``. An evaluator built
    from a config also defines ``Section`` (a keyword-only dataclass of its config keys, with ``prefix`` and
    ``batch_size``) and, when ``__init__`` takes more than same-named keys, ``config_inputs``.
    """

    #: The config keys of the evaluator (a keyword-only dataclass); read by ``from_config`` and the config check.
    Section: ClassVar[type[Any]]

    #: Short name of the main metric (e.g. ``"spearman"``); the full key is ``primary_metric``.
    primary: str = ""
    #: Whether a larger primary metric is better (True for correlations and accuracies).
    higher_is_better: bool = True

    def __init__(self, name: str, batch_size: int) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without surrounding "
                             f"spaces, got {name!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive integer, got {batch_size!r}")
        self.name = name
        self.batch_size = batch_size

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> Evaluator:
        """The evaluator from its config section (the keys of ``Section``): ``__init__`` gets the section keys it
        takes under the same name, ``name=prefix``, and what ``config_inputs`` builds (which takes precedence)."""
        s = cls.Section(**section)
        params = inspect.signature(cls).parameters
        kwargs = {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name in params}
        kwargs["name"] = s.prefix
        kwargs.update(cls.config_inputs(s))
        return cls(**kwargs)

    @classmethod
    def config_inputs(cls, section: Any) -> dict[str, Any]:
        """The ``__init__`` arguments built from a ``Section`` instance rather than copied from a same-named key (the
        data read from disk, renamed or transformed keys); none by default."""
        return {}

    @property
    def primary_metric(self) -> str:
        """Full key of the main metric, ``f"{name}/{primary}"``."""
        return self.key(self.primary)

    def key(self, metric: str) -> str:
        """Full key of ``metric``: ``f"{name}/{metric}"``."""
        return f"{self.name}/{metric}"

    @abc.abstractmethod
    def __call__(self, model: Encoder) -> dict[str, float]:
        """Evaluate ``model`` -> ``{f"{name}/{metric}": value}``, including ``primary_metric``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, primary_metric={self.primary_metric!r})"


def num_inputs(inputs: Inputs) -> int:
    """N for a list of texts or an image tensor (N, C, H, W)."""
    return int(inputs.shape[0]) if isinstance(inputs, torch.Tensor) else len(inputs)


def check_inputs(inputs: Inputs, what: str, texts_only: bool = False) -> Inputs:
    """Validate ``inputs`` (a non-empty list of strings, or, unless ``texts_only``, an image tensor
    (N, C, H, W) with N >= 1).

    Tuples and other sequences of strings are returned as a list. ``what`` names the argument in errors.
    """
    if isinstance(inputs, torch.Tensor):
        if texts_only:
            raise TypeError(f"{what}: expected a list of strings, got a tensor of shape {tuple(inputs.shape)}")
        if inputs.dim() != 4:
            raise ValueError(f"{what}: an image tensor must have shape (N, C, H, W), got {tuple(inputs.shape)}")
        if inputs.shape[0] == 0:
            raise ValueError(f"{what}: no inputs (an empty image tensor)")
        return inputs
    if isinstance(inputs, str) or not isinstance(inputs, Sequence):
        raise TypeError(f"{what}: expected a list of strings or an image tensor (N, C, H, W), "
                        f"got {type(inputs).__name__}")
    items = list(inputs)
    if not items:
        raise ValueError(f"{what}: no inputs (an empty list)")
    bad = next((i for i, s in enumerate(items) if not isinstance(s, str)), None)
    if bad is not None:
        raise TypeError(f"{what}: item {bad} is a {type(items[bad]).__name__}, expected str")
    return items


def encode(model: Encoder, inputs: Inputs, batch_size: int, what: str = "inputs") -> torch.Tensor:
    """``model.encode(inputs, batch_size)`` checked: a 2-D tensor (N, D) with one row per input, returned as
    float32 on the CPU. Non-finite values are kept (a diverged model then gets nan metrics, not an error)."""
    out = model.encode(inputs, batch_size=batch_size)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"encode({what}) returned a {type(out).__name__}, expected a torch.Tensor (N, D)")
    n = num_inputs(inputs)
    if out.dim() != 2 or out.shape[0] != n:
        raise ValueError(f"encode({what}) returned shape {tuple(out.shape)} for {n} inputs, expected ({n}, D)")
    return out.detach().to(device="cpu", dtype=torch.float32)


def encode_unique_texts(model: Encoder, texts: Sequence[str], batch_size: int,
                        what: str = "texts") -> tuple[torch.Tensor, dict[str, int]]:
    """Encode each distinct string of ``texts`` once.

    Returns ``(embeddings (U, D), row_of)`` where ``row_of[text]`` is the row of ``text`` in ``embeddings``
    and U is the number of distinct strings (in order of first occurrence).
    """
    row_of: dict[str, int] = {}
    for text in texts:
        row_of.setdefault(text, len(row_of))
    return encode(model, list(row_of), batch_size, what), row_of


def run_evaluators(evaluators: Iterable[Evaluator], model: Encoder) -> dict[str, float]:
    """Run every evaluator on ``model`` and merge their metrics into one dict (in evaluator order).

    Raises ``ValueError`` when two evaluators produce the same key (give them different ``name``s), or
    when an evaluator's result lacks its own ``primary_metric``.
    """
    merged: dict[str, float] = {}
    owner: dict[str, str] = {}
    for index, evaluator in enumerate(evaluators):
        label = f"evaluator {index} ({type(evaluator).__name__} '{getattr(evaluator, 'name', '?')}')"
        result = evaluator(model)
        if not isinstance(result, dict):
            raise TypeError(f"{label} returned a {type(result).__name__}, expected a dict[str, float]")
        primary = getattr(evaluator, "primary_metric", None)
        if primary not in result:
            raise ValueError(f"{label}: its primary metric {primary!r} is not among its results {sorted(result)}")
        for key, value in result.items():
            if key in merged:
                raise ValueError(f"duplicate metric key {key!r}: produced by {owner[key]} and by {label}; "
                                 f"give the evaluators different names")
            merged[key] = float(value)
            owner[key] = label
    return merged


def is_better(evaluator: Evaluator, new: float, old: float | None) -> bool:
    """Whether primary metric value ``new`` improves on ``old`` (None or nan: anything finite is better)."""
    if math.isnan(new):
        return False
    if old is None or math.isnan(old):
        return True
    return new > old if evaluator.higher_is_better else new < old
