"""BatchNorm running statistics kept to the full-size views.

Multi-crop (SwAV, Caron et al. 2020; DINO, Caron et al. 2021) and PIRL's per-tile jigsaw (Misra & van der Maaten
2020) send smaller inputs through the same trunk as the full-size views: local crops, 16x16 tiles. In training
mode every such pass normalises with its own batch statistics (that is unchanged here), but it also moves each
BatchNorm's running mean and variance, which evaluation and the exported model use on full-size images. With one
tile pass per image pass the running statistics end up about half tile statistics. ``running_stats_frozen``
runs the extra passes with the running statistics left exactly as they were (``train.bn_running_stats:
full_views``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def tracking_batch_norms(module: nn.Module) -> list[_BatchNorm]:
    """The BatchNorm layers of ``module`` that a forward pass now would move: training mode, running stats on."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.training and m.track_running_stats]


@contextmanager
def running_stats_frozen(module: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Inside the block, every BatchNorm of ``module`` in training mode still normalises with batch statistics
    but leaves ``running_mean``, ``running_var`` and ``num_batches_tracked`` unchanged (momentum 0 for the
    block, the counter restored after). ``enabled=False`` is a no-op."""
    norms = tracking_batch_norms(module) if enabled else []  # disabled (the default): no walk on the step
    if not norms:
        yield
        return
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0  # running <- (1 - 0) * running + 0 * batch statistic
    try:
        yield
    finally:
        for norm, (momentum, tracked) in zip(norms, saved):
            norm.momentum = momentum
            if tracked is not None:
                norm.num_batches_tracked.copy_(tracked)
