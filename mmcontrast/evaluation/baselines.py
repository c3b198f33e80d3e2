"""Reference encoders for baselines: raw pixels through the same evaluators as trained models.

Reference points (weighted kNN, k=200, T=0.1, cosine; Fashion-MNIST 60k train / 10k test): raw pixels
0.7885 (reproduced by tests/test_vision_evaluation.py); a linear probe on standardised raw pixels about 0.845.
"""

from __future__ import annotations

import torch


class PixelEncoder:
    """Raw pixels as features: ``encode(images (N, C, H, W), batch_size) -> (N, C * H * W)`` float32 CPU.

    uint8 images are scaled to [0, 1]; float images are kept as they are. Scaling does not change cosine
    kNN, and the linear probe standardises its features; the scale only makes the numbers readable.
    """

    def encode(self, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise TypeError(f"PixelEncoder: expected an image tensor (N, C, H, W), got {shape}")
        if batch_size < 1:
            raise ValueError(f"PixelEncoder: batch_size must be >= 1, got {batch_size}")
        scale = 1.0 / 255.0 if inputs.dtype == torch.uint8 else 1.0
        chunks = [inputs[i : i + batch_size].detach().cpu().flatten(1).float() * scale
                  for i in range(0, inputs.shape[0], batch_size)]
        return torch.cat(chunks) if chunks else torch.zeros(0, int(torch.tensor(inputs.shape[1:]).prod()))
