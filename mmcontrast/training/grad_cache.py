"""Gradient caching (Gao, Zhang, Han & Callan 2021, "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup", GradCache): a contrastive batch far larger than fits in memory, with exactly the loss and the
gradients of the full batch.

The loss of an in-batch objective couples every row with every other, so ordinary gradient accumulation would
shrink the candidate pool. Gradient caching instead splits the MODEL forward only:

1. embed the N rows of the batch in chunks of ``chunk_size`` rows without a graph (``torch.no_grad``), saving
   the RNG state before each chunk;
2. compute the loss on all N embeddings (as detached leaves that require grad), exactly the code of the
   ordinary step (``Learner.loss_from_embeddings``: predictor, target keys, gathering across processes, hard
   negatives, queues), and backpropagate it to the embeddings: the gradient cache, (N, D);
3. replay each chunk WITH a graph from its saved RNG state (so dropout draws the same masks: SimCSE's
   positives stay the same views) and backpropagate the cached gradient of its rows into the encoder.

Peak activation memory is that of one chunk plus the (N, D) embeddings; compute is one extra forward.

Distributed (DDP through Accelerate): every chunk forward goes through the wrapped module so DDP sees it; all
but the final replay run under ``no_sync`` and the final one reduces the accumulated gradients once.
Parameters that only the loss uses (a learnable temperature, a predictor, prototypes) get their gradient from
step 2, and it is fed again into the final replay's backward (``autograd.backward`` on the parameters
themselves), so that DDP's reducer sees them in the one synchronised backward and averages them too.

BatchNorm in training mode normalises each chunk with that chunk's statistics, so a chunked forward is not the
full-batch forward (as per-device BN on a smaller per-device batch): loss and gradients then differ from the
unchunked step. Running statistics are updated once per chunk by the first pass; the replay's updates are
undone. Models with LayerNorm (transformers, ViT) or BN in eval mode are exact.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import torch
from torch import nn

from ..batch import EmbeddingBatch, StepBatch
from .norm_stats import tracking_batch_norms

logger = logging.getLogger(__name__)

Inputs = dict[str, Any]


@dataclass
class Chunk:
    """One slice of a forward's inputs: ``inputs`` (the model input of these rows) and ``rows`` (n,) long, the
    position of each of its output embeddings in the output of the unchunked forward."""

    inputs: Inputs
    rows: torch.Tensor


def _num_rows(inputs: Inputs) -> int:
    return next(iter(inputs.values())).shape[0]


def _slice(inputs: Inputs, start: int, end: int) -> Inputs:
    return {k: v[start:end] for k, v in inputs.items()}


def trim_padding(inputs: Inputs) -> Inputs:
    """Drop trailing columns that are padding in every row of a text chunk (``attention_mask`` all zero): a
    chunk of short texts need not carry the padding of the longest text of the whole batch. Inputs without an
    attention mask (images) and left-padded inputs are returned unchanged."""
    mask = inputs.get("attention_mask")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.shape[0] == 0:
        return inputs
    used = mask.any(dim=0).nonzero()
    length = int(used.max()) + 1 if used.numel() else 1
    if length == mask.shape[1]:
        return inputs
    full = mask.shape[1]
    return {k: v[:, :length] if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == full else v
            for k, v in inputs.items()}


def split_rows(inputs: Inputs, chunk_size: int) -> list[Chunk]:
    """Split a model input into ceil(N / chunk_size) chunks of near-equal size (at most ``chunk_size`` rows each;
    no 1-row remainder, which BatchNorm could not normalise).

    A one-tower input (``{name: tensor (N, ...)}``) is cut into consecutive slices. A two-tower input
    (``{"query": {...}, "passage": {...}}`` or an image-text dual encoder's ``{"image": ..., "text": ...}``
    without its row map (``split_row_map``), output = the first tower's rows then the second's) is cut into the
    same number of slices per tower, so that every chunk runs both towers (DDP must see every parameter in the final
    backward). Text chunks lose the padding columns none of their rows uses.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    towers = {k: v for k, v in inputs.items() if isinstance(v, dict)}
    if towers and len(towers) != len(inputs):
        raise ValueError(f"inputs mix towers and tensors: {sorted(inputs)}")
    parts = towers or {"": inputs}
    counts = {name: _num_rows(part) for name, part in parts.items()}
    pieces = max(1, min(-(-sum(counts.values()) // chunk_size), *counts.values()))
    chunks = []
    for i in range(pieces):
        offset, rows, sub = 0, [], {}
        for name, part in parts.items():
            start, end = i * counts[name] // pieces, (i + 1) * counts[name] // pieces
            sub[name] = trim_padding(_slice(part, start, end))
            rows.append(torch.arange(offset + start, offset + end))
            offset += counts[name]
        chunks.append(Chunk(sub if towers else sub[""], torch.cat(rows)))
    return chunks


def split_row_map(model: nn.Module, inputs: Inputs) -> tuple[Inputs, torch.Tensor | None]:
    """A model whose forward repeats rows (an image-text dual encoder embeds each distinct caption once and
    indexes it per caption) says so with ``split_row_map(inputs) -> (inputs to chunk, output rows)``: the chunks
    then embed the distinct rows, and the loss sees ``embeddings[output_rows]``; the gradient of a repeated row
    sums over its repeats, as in the unchunked forward. Other models: ``(inputs, None)``."""
    split = getattr(model, "split_row_map", None)
    return split(inputs) if split is not None else (inputs, None)


class RngState:
    """The CPU RNG state and that of the accelerator device the chunk runs on, captured before a chunk's first
    forward and restored before its replay (what ``torch.utils.checkpoint`` does for its recomputation)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.accelerator = None
        if device.type != "cpu":
            module = torch.get_device_module(device.type)
            self.accelerator = module.get_rng_state(device)

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.accelerator is not None:
            torch.get_device_module(self.device.type).set_rng_state(self.accelerator, self.device)

    @contextlib.contextmanager
    def replay(self):  # type: ignore[no-untyped-def]
        """Run a block from this state, then put the RNG back where it was (the replay draws nothing)."""
        devices = [self.device] if self.accelerator is not None else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type if devices else None):
            self.restore()
            yield


def _first_tensor(inputs: Inputs) -> torch.Tensor:
    for value in inputs.values():
        if isinstance(value, dict):
            return _first_tensor(value)
        if isinstance(value, torch.Tensor):
            return value
    raise ValueError("model inputs hold no tensor")


_warned_batch_norm = False


def grad_cache_step(
    learner: nn.Module,
    step: StepBatch,
    chunk_size: int = 64,
    backward: Callable[[torch.Tensor], None] | None = None,
    autocast: Callable[[], ContextManager[Any]] | None = None,
) -> tuple[torch.Tensor, EmbeddingBatch]:
    """One forward + backward of ``learner`` over a batch with gradient caching; gradients are ACCUMULATED into
    the parameters' ``.grad`` exactly as ``backward(learner(step)[0])`` would.

    Args:
        learner: the ``Learner``, possibly wrapped (DDP): chunk forwards call ``learner(embed=inputs)`` and the
            loss is computed by the unwrapped ``Learner.loss_from_embeddings``.
        step: the step's ``StepBatch`` (``flatten_views``' output, on the device), as for ``Learner.forward``.
        chunk_size: rows (texts or images) per chunk forward; the flattened batch holds B x views rows.
        backward: how to backpropagate the loss (``accelerator.backward``: loss scaling, accumulation); default
            ``loss.backward()``. Only the loss goes through it; the replays backpropagate its cached gradients.
        autocast: context factory the loss runs under (``accelerator.autocast``), as the unchunked forward does.

    Returns:
        (the loss, detached; the ``EmbeddingBatch`` of the first loss direction, over detached embeddings).
    """
    global _warned_batch_norm
    core = getattr(learner, "module", learner)  # DDP -> Learner
    model, target = core.model, core.target
    inputs, output_rows = split_row_map(model, step.inputs)
    if output_rows is not None and target is not None:
        raise ValueError("gradient caching of a model whose outputs repeat rows (an image-text dual encoder's "
                         "shared captions) does not support a target branch")
    groups = [split_rows(inputs, chunk_size)] + [split_rows(c, chunk_size) for c in step.crop_inputs]
    device = _first_tensor(inputs).device
    no_sync: Callable[[], ContextManager[Any]] = getattr(learner, "no_sync", contextlib.nullcontext)
    norms = tracking_batch_norms(model)
    if norms and not _warned_batch_norm:
        logger.warning("gradient caching with BatchNorm in training mode: each chunk of %d rows is normalised "
                       "with its own statistics, so the step differs from the unchunked batch", chunk_size)
        _warned_batch_norm = True

    # 1. embed every chunk without a graph, remembering its RNG state
    states: list[list[RngState]] = []
    embeddings: list[torch.Tensor] = []
    key_parts: list[torch.Tensor] = []
    with torch.no_grad():
        for g, chunks in enumerate(groups):
            states.append([])
            parts = []
            for chunk in chunks:
                states[g].append(RngState(device))
                with core.small_pass_stats(model) if g > 0 else contextlib.nullcontext():  # local crops
                    out = learner(embed=chunk.inputs)
                if g == 0 and target is not None:  # keys carry no gradient: computed once, here
                    key_parts.append(target.keys(chunk.inputs, out))
                parts.append(out)
            rows = torch.cat([c.rows for c in chunks]).to(device)
            full = torch.empty((rows.numel(), parts[0].shape[1]), dtype=parts[0].dtype, device=device)
            embeddings.append(full.index_copy_(0, rows, torch.cat(parts)).requires_grad_(True))
            if g == 0 and target is not None:
                keys_cat = torch.cat(key_parts)
                key_parts = [torch.empty_like(keys_cat).index_copy_(0, rows, keys_cat)]
    statistics = [{k: v.clone() for k, v in m.named_buffers(recurse=False)} for m in norms]

    # 2. the loss on all embeddings; its gradient w.r.t. them is the cache. Parameters of the loss stage keep
    #    their gradient aside for the final, synchronised backward: the embeddings are detached leaves, so every
    #    parameter this backward reaches is one (a temperature, a predictor, prototypes, a dual encoder's logit
    #    scale, which lives in the model but is not used by the chunk forwards).
    loss_params = [p for p in core.parameters() if p.requires_grad]
    earlier = [p.grad for p in loss_params]
    for p in loss_params:
        p.grad = None
    online = embeddings[0] if output_rows is None else embeddings[0][output_rows.to(device)]
    keys = online if target is None else key_parts[0]
    with (autocast or contextlib.nullcontext)():
        loss, batch = core.loss_from_embeddings(online, keys, step, embeddings[1:])
    (backward or torch.Tensor.backward)(loss)
    loss_grads = [p.grad for p in loss_params]
    for p, grad in zip(loss_params, earlier):
        p.grad = grad
    extra = [(p, g) for p, g in zip(loss_params, loss_grads) if g is not None]
    cache = [e.grad if e.grad is not None else torch.zeros_like(e) for e in embeddings]

    # 3. replay each chunk from its RNG state with a graph; backpropagate its rows' cached gradient. The final
    #    chunk (main input, so that it runs every parameter of the model) reduces gradients across processes.
    order = [(g, i) for g in range(1, len(groups)) for i in range(len(groups[g]))]
    order += [(0, i) for i in range(len(groups[0]))]
    for g, i in order:
        chunk = groups[g][i]
        final = (g, i) == order[-1]
        with (contextlib.nullcontext() if final else no_sync()), states[g][i].replay():
            out = learner(embed=chunk.inputs)
            grad = cache[g][chunk.rows.to(device)].to(out.dtype)
            if final and extra:
                torch.autograd.backward([out, *(p for p, _ in extra)], [grad, *(g_ for _, g_ in extra)])
            else:
                out.backward(grad)
    with torch.no_grad():
        for m, saved in zip(norms, statistics):  # undo the replay's running-statistics updates
            for name, value in saved.items():
                getattr(m, name).copy_(value)
    return loss.detach(), batch
