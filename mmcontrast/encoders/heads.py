"""Projection and prediction MLP heads (SimCLR's g(.), SimCSE's MLP, BYOL's predictor)."""

from __future__ import annotations

import torch
from torch import nn

from ..citations import DINO

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

    card_summary = "an MLP projection head (linear layers with an activation, and optionally BatchNorm, between them)"

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


class DINOHead(nn.Module):
    """DINO's projection head (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers",
    Sec. 3.1 and Appendix): an MLP ``input_dim -> hidden_dims... -> bottleneck_dim`` (GELU between layers), L2
    normalisation, then a weight-normalised linear layer without bias onto ``num_prototypes`` outputs:
    (N, input_dim) -> (N, K) scores ``normalize(z) @ normalize(W).T`` in [-1, 1] (the paper's
    ``norm_last_layer=True``: weight norm with its gain fixed to 1). The ``dino`` objective turns them into the
    student and teacher softmaxes; the momentum target keeps an EMA copy of the whole head, prototypes included.

    Args:
        input_dim: injected from the encoder's embedding size.
        hidden_dims: hidden layers of the MLP (paper: [2048, 2048]).
        bottleneck_dim: the MLP's output, normalised (paper: 256).
        num_prototypes: K, the number of outputs (paper: 65,536; a few hundred on small data).
        batch_norm: BatchNorm after hidden layers (off in the paper's ViT setting).
        train_only: drop the head at evaluation and export (the backbone features are the representation).
    """

    card_summary = (
        "DINO's projection head (Caron et al., 2021): an MLP, L2 normalisation and a weight-normalised linear "
        "layer onto the prototypes"
    )
    citation = DINO
    tags = ("dino",)

    def __init__(
        self,
        input_dim: int,
        hidden_dims: list[int] | None = None,
        bottleneck_dim: int = 256,
        num_prototypes: int = 4096,
        activation: str = "gelu",
        batch_norm: bool = False,
        train_only: bool = True,
    ) -> None:
        super().__init__()
        if num_prototypes < 2:
            raise ValueError(f"head.num_prototypes must be >= 2, got {num_prototypes}")
        self.mlp = MLPHead(input_dim, hidden_dims if hidden_dims is not None else [2048, 2048], bottleneck_dim,
                           activation=activation, batch_norm=batch_norm, train_only=train_only)
        self.prototypes = nn.Parameter(torch.empty(num_prototypes, bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)
        self.train_only = train_only
        self.output_dim = num_prototypes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = nn.functional.normalize(self.mlp(x), dim=-1)
        return z @ nn.functional.normalize(self.prototypes, dim=-1).T
