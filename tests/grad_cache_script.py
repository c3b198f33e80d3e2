"""Gradient-caching parity harness: one step's loss and gradients with gradient caching vs without it.

Used in-process by tests/test_grad_cache.py (1 process) and launched by it with
``accelerate launch --multi_gpu --num_processes 2 tests/grad_cache_script.py OUT CASE...`` (DDP over gloo), where
each rank saves its results to OUT/rank<r>.pt.

References (never the code under test):
- ``full``: the ordinary step, ``learner(step)`` + backward over the whole batch in ONE forward.
  Exact only without dropout: a chunked forward draws dropout masks in another order than one big forward.
- ``chunked_graph``: the ordinary step too, but with the model's forward replaced by one that embeds the rows
  chunk by chunk WITH the autograd graph kept (the memory-hungry way), so that dropout draws exactly the masks
  gradient caching draws; under DDP its gradients are averaged by hand (all_reduce), not by DDP's reducer. The
  chunking (the row ranges, the trimmed padding, both towers in every chunk) is written out here in plain torch
  from the documented contract, not taken from the implementation (``split_rows``), and the loss comes from the
  ordinary ``Learner.forward``, not from the ``loss_from_embeddings`` call gradient caching makes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from conftest import MINILM, SHARED_DATA, TINY_BERT, TINY_RESNET  # noqa: E402

from mmcontrast.batch import StepBatch  # noqa: E402
from mmcontrast.config import Config, _merge, validate  # noqa: E402
from mmcontrast.data import build_dataset, collate_rows  # noqa: E402
from mmcontrast.distributed import rank, world_size  # noqa: E402
from mmcontrast.training.build import build_learner, build_view  # noqa: E402
from mmcontrast.training.grad_cache import grad_cache_step  # noqa: E402
from mmcontrast.training.learner import flatten_views  # noqa: E402

BATCH = 8  # anchors per process
TINY_VIT = {"model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 1, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def case_config(case: str, dropout: float) -> Config:
    """A tiny run per case; ``dropout`` sets every dropout probability of the backbone."""
    drop = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    text_encoder = {"name": "text", "config": {**TINY_BERT, **drop}, "tokenizer": MINILM, "max_length": 24}
    tree: dict[str, Any]
    if case == "text_unsup":  # SimCSE unsup (dropout twins), learnable temperature: a parameter of the loss stage
        tree = {"data": {"train": {"name": "text_lines", "path": str(SHARED_DATA / "wiki" /
                                                                      "wiki1m_for_simcse.first11914.txt")}},
                "view": {"name": "simcse_unsup"},
                "encoder": {**text_encoder, "pooling": "cls_before_pooler"},
                "head": {"name": "mlp", "hidden_dims": [], "final_activation": "tanh", "train_only": True},
                "objective": {"name": "info_nce", "temperature": 0.05, "learnable_temperature": True}}
    elif case == "text_sup":  # supervised SimCSE with a hard negative per anchor
        tree = {"data": {"train": {"name": "tsv", "path": str(SHARED_DATA / "nli" / "snli_dev_triplets.tsv.gz")}},
                "view": {"name": "simcse_sup", "negative": "negative"},
                "encoder": {**text_encoder, "pooling": "mean"},
                "objective": {"name": "info_nce", "temperature": 0.05}}
    elif case == "vision_vit":  # SimCLR on a tiny ViT (LayerNorm: chunking is exact)
        tree = {"data": {"train": {"name": "sklearn_digits"}},
                "view": {"name": "two_view_augment", "augment": {"size": 16}},
                "encoder": {"name": "vision", "image_size": 16, "config": {**TINY_VIT, **drop}},
                "head": {"name": "mlp", "hidden_dims": [32], "output_dim": 16},
                "objective": {"name": "nt_xent", "temperature": 0.5}}
    elif case == "vision_resnet_bn":  # BatchNorm in training mode: exact w.r.t. the chunked forward only
        tree = {"data": {"train": {"name": "sklearn_digits"}},
                "view": {"name": "two_view_augment", "augment": {"size": 16}},
                "encoder": {"name": "vision", "image_size": 16, "config": TINY_RESNET},
                "head": {"name": "mlp", "hidden_dims": [32], "output_dim": 16, "batch_norm": True},
                "objective": {"name": "nt_xent", "temperature": 0.5}}
    elif case == "vision_moco":  # momentum target + queue: keys without gradient, state updated after the loss
        tree = {"data": {"train": {"name": "sklearn_digits"}},
                "view": {"name": "two_view_augment", "augment": {"size": 16}},
                "encoder": {"name": "vision", "image_size": 16, "config": {**TINY_VIT, **drop}},
                "head": {"name": "mlp", "hidden_dims": [32], "output_dim": 16},
                "target": {"name": "momentum", "momentum": 0.99, "schedule": "constant"},
                "negatives": {"name": "queue", "size": 32},
                "objective": {"name": "info_nce", "temperature": 0.2}}
    elif case == "vision_swav":  # multi-crop (crops chunked too), prototypes: a loss-stage parameter; BN ResNet
        tree = {"data": {"train": {"name": "sklearn_digits"}},
                "view": {"name": "multi_crop", "global_size": 16, "local_size": 8, "num_local": 2},
                "encoder": {"name": "vision", "image_size": 16, "config": TINY_RESNET},
                "head": {"name": "mlp", "hidden_dims": [32], "output_dim": 16},
                "negatives": {"name": "none"},
                "objective": {"name": "swav", "num_prototypes": 10, "temperature": 0.1}}
    elif case == "text_two_tower":  # DPR-style separate passage tower, hard negatives, prompts
        tree = {"data": {"train": {"name": "tsv", "path": str(SHARED_DATA / "nli" / "snli_dev_triplets.tsv.gz")}},
                "view": {"name": "simcse_sup", "negative": "negative"},
                "encoder": {**text_encoder, "pooling": "mean"},
                "passage_encoder": {**text_encoder, "pooling": "mean"},
                "prompts": {"query": "query: ", "passage": "passage: "},
                "objective": {"name": "info_nce", "temperature": 0.05}}
    elif case in ("image_text_clip", "image_text_siglip"):  # dual encoder; captions repeat (embedded once)
        parity = ["even", "odd"] * 5  # 8 digits, 4 distinct captions (2 names x 2 templates), each embedded once
        tree = {"data": {"train": {"name": "labelled_captions", "dataset": {"name": "sklearn_digits"},
                                   "class_names": parity, "templates": ["the {} digit.", "a photo of an {} number."]}},
                "view": {"name": "image_caption"},
                "encoder": {"name": "dual_encoder", "projection_dim": 16,
                            "vision": {"image_size": 16, "config": {**TINY_VIT, **drop, "num_channels": 3}},
                            "text": {"config": {**TINY_BERT, **drop}, "tokenizer": MINILM, "max_length": 16}},
                "objective": {"name": case.removeprefix("image_text_")}}
    else:
        raise KeyError(case)
    cfg = _merge(Config(), {"seed": 7, **tree, "train": {"batch_size": BATCH}}, "", f"case {case}")
    validate(cfg, f"case {case}")
    return cfg


def make_batch(cfg: Config, learner: Any, device: torch.device) -> StepBatch:
    """This process's rows (BATCH per rank, consecutive) through the view -> flatten_views' output."""
    dataset = build_dataset(cfg.data.train)
    rows = [dict(dataset[i], index=i) for i in range(rank() * BATCH, (rank() + 1) * BATCH)]
    view = build_view(cfg, seed=cfg.seed + rank(), device=device)
    views = view(collate_rows(rows))
    return flatten_views(learner.model, views)


def _rows(inputs: dict[str, Any]) -> int:
    return next(iter(inputs.values())).shape[0]


def _trim(inputs: dict[str, Any]) -> dict[str, Any]:
    """A text chunk without the trailing columns that none of its rows attends to (images: unchanged)."""
    mask = inputs.get("attention_mask")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        return inputs
    width = mask.shape[1]
    used = torch.nonzero(mask.sum(dim=0))
    length = int(used.max()) + 1 if used.numel() else 1
    return {k: v[:, :length] if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == width else v
            for k, v in inputs.items()}


def chunked_forward(forward: Callable[[dict[str, Any]], torch.Tensor], inputs: dict[str, Any],
                    chunk_size: int) -> torch.Tensor:
    """``forward(inputs)`` (N, D) computed chunk by chunk with the graph kept, in the chunks gradient caching
    documents: k = ceil(N / chunk_size) chunks (at most the rows of the smallest tower), chunk i holding rows
    [i * n // k, (i + 1) * n // k) of every tower of n rows (one tower, or the two of a two-tower input, whose
    output is the first tower's rows then the second's), run in order of i."""
    towers = inputs if all(isinstance(v, dict) for v in inputs.values()) else {"": inputs}
    counts = [_rows(part) for part in towers.values()]
    pieces = max(1, min(-(-sum(counts) // chunk_size), *counts))
    outputs, positions = [], []
    for i in range(pieces):
        chunk, offset = {}, 0
        for (name, part), n in zip(towers.items(), counts):
            start, end = i * n // pieces, (i + 1) * n // pieces
            chunk[name] = _trim({k: v[start:end] for k, v in part.items()})
            positions.append(torch.arange(offset + start, offset + end))
            offset += n
        outputs.append(forward(chunk if "" not in chunk else chunk[""]))
    order = torch.cat(positions)  # the output row of every chunk row, in the order the chunks produced them
    return torch.cat(outputs)[torch.argsort(order)]


@contextlib.contextmanager
def model_forward_in_chunks(model: Any, chunk_size: int) -> Iterator[None]:
    """Within the block, ``model(inputs)`` embeds in chunks with the graph kept (``chunked_forward``); a model
    whose output repeats rows (an image-text dual encoder's shared captions: ``model.split_row_map``) embeds the
    distinct rows in chunks and repeats them after."""
    forward = model.forward

    def forward_in_chunks(inputs: dict[str, Any]) -> torch.Tensor:
        distinct, repeat = model.split_row_map(inputs) if hasattr(model, "split_row_map") else (inputs, None)
        embedded = chunked_forward(forward, distinct, chunk_size)
        return embedded if repeat is None else embedded[repeat]

    model.forward = forward_in_chunks
    try:
        yield
    finally:
        del model.forward


def one_step(
    learner: Any, mode: str, batch: StepBatch, chunk_size: int, seed: int,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
) -> tuple[float, dict[str, torch.Tensor]]:
    """Zero the gradients, draw from ``seed``, run one forward + backward in ``mode`` (``full``,
    ``chunked_graph`` or ``cache``) -> (local loss, {parameter name: gradient})."""
    core = getattr(learner, "module", learner)
    core.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    if mode == "full":
        loss, _ = learner(batch)
        backward(loss)
    elif mode == "chunked_graph":
        with model_forward_in_chunks(core.model, chunk_size):  # the unwrapped learner: no DDP reduction
            loss, _ = core(batch)
        loss.backward()
        if world_size() > 1:
            for p in core.parameters():
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= world_size()
    elif mode == "cache":
        loss, _ = grad_cache_step(learner, batch, chunk_size, backward=backward)
    else:
        raise KeyError(mode)
    grads = {n: p.grad.detach().clone() for n, p in core.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads


def reference_mode(case: str, dropout: float) -> str:
    """``full`` is exact only without dropout and without training-mode BatchNorm; ``chunked_graph`` otherwise
    (it needs keys equal to the online embeddings: no target)."""
    if case in ("vision_resnet_bn", "vision_swav") or dropout > 0:
        return "chunked_graph"
    return "full"


def compare_case(case: str, dropout: float, chunk_size: int, prepare: Callable[[Any], Any] = lambda m: m,
                 backward: Callable[[torch.Tensor], None] = torch.Tensor.backward) -> dict[str, Any]:
    """Reference and gradient caching on the same batch from the same state (parameters AND buffers: queue,
    BatchNorm statistics); returns both losses, gradients and buffers after the step."""
    cfg = case_config(case, dropout)
    torch.manual_seed(cfg.seed)  # same initial weights on every process
    core = build_learner(cfg, num_samples=1797)
    core.train()
    batch = make_batch(cfg, core, torch.device("cpu"))
    learner = prepare(core)
    reference = reference_mode(case, dropout)
    if reference == "chunked_graph" and core.target is not None:
        raise ValueError(f"case {case}: the chunked reference has no target branch")
    seed = 1234 + rank()
    initial = {k: v.clone() for k, v in core.state_dict().items()}
    ref_loss, ref_grads = one_step(learner, reference, batch, chunk_size, seed, backward)
    ref_buffers = {k: v.clone() for k, v in core.named_buffers()}
    rng_after_ref = torch.get_rng_state()
    core.load_state_dict(initial)
    loss, grads = one_step(learner, "cache", batch, chunk_size, seed, backward)
    buffers = {k: v.clone() for k, v in core.named_buffers()}
    changed = [k for k, v in ref_buffers.items() if k in initial and not torch.equal(v, initial[k])]
    return {"reference": reference, "ref_loss": ref_loss, "ref_grads": ref_grads, "loss": loss, "grads": grads,
            "rows": batch.layout.batch, "ref_buffers": ref_buffers, "buffers": buffers, "changed_buffers": changed,
            "same_rng_after": bool(torch.equal(rng_after_ref, torch.get_rng_state()))}


if __name__ == "__main__":  # accelerate launch ... grad_cache_script.py OUT CASE:DROPOUT:CHUNK ...
    from accelerate import Accelerator

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    accelerator = Accelerator(cpu=True)
    out = Path(sys.argv[1])
    results = {}
    for spec in sys.argv[2:]:
        case, dropout, chunk = spec.split(":")
        results[spec] = compare_case(case, float(dropout), int(chunk), prepare=accelerator.prepare,
                                     backward=accelerator.backward)
    torch.save(results, out / f"rank{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
