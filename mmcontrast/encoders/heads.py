"""Projection and prediction MLP heads (SimCLR's g(.), SimCSE's MLP, BYOL's predictor)."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLPHead(nn.Module):
    """Linear layers ``input_dim -> hidden_dims... -> output_dim`` with activation (and optional BatchNorm)
    between them: (N, input_dim) -> (N, output_dim).

    SimCLR (Chen et al. 2020): ``hidden_dims=[H], batch_norm=true, activation=relu``.
    SimCSE (Gao et al. 2021): ``hidden_dims=[], final_activation=tanh, train_only=true`` (the MLP is used
    in training only and dropped at evaluation and export).

    Args:
        input_dim: injected from the encoder's embedding size.
        train_only: use the head for the training loss only; evaluation and export use the encoder output.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dims: list[int] | None = None,
        output_dim: int | None = None,
        activation: str = "relu",
        final_activation: str | None = None,
        batch_norm: bool = False,
        train_only: bool = True,
    ) -> None:
        super().__init__()
        for name in (activation, final_activation):
            if name is not None and name not in ACTIVATIONS:
                raise ValueError(f"head activation must be one of {', '.join(ACTIVATIONS)}, got '{name}'")
        dims = [input_dim, *(hidden_dims or []), output_dim or input_dim]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(dims) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(d_out))
                layers.append(ACTIVATIONS[activation]())
        if final_activation is not None:
            layers.append(ACTIVATIONS[final_activation]())
        self.net = nn.Sequential(*layers)
        self.train_only = train_only
        self.output_dim = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
