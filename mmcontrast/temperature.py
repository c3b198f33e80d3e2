"""Softmax temperature (fixed or learnable), shared by objectives and the encoders that own their logit scale.

A leaf module: encoders (the dual encoder's learnable CLIP scale) take it from here and never import objectives.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Temperature(nn.Module):
    """Softmax temperature tau, fixed or learnable as a log logit scale (CLIP, Radford et al. 2021).

    The learnable form stores ``log(1 / tau)`` and clamps the scale ``1 / tau`` to at most
    ``max_logit_scale`` (100 in CLIP) in every forward, so the effective scale never exceeds the clamp.
    """

    def __init__(self, temperature: float, learnable: bool = False, max_logit_scale: float = 100.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if 1.0 / temperature > max_logit_scale:
            raise ValueError(
                f"temperature {temperature} gives logit scale {1 / temperature:.1f} above max_logit_scale "
                f"{max_logit_scale}"
            )
        self.max_log_scale = math.log(max_logit_scale)
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale, persistent=False)

    def scale(self) -> torch.Tensor:
        """The logit scale 1/tau (scalar tensor), clamped to ``max_logit_scale``."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()

    @property
    def value(self) -> float:
        return float(1.0 / self.scale())
