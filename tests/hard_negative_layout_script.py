"""Run under ``accelerate launch --multi_gpu --num_processes N`` (or plainly, as one process): each process builds
labelled embeddings for its own anchors, asks ``InBatchNegatives`` for the InfoNCE candidate pool and writes, for
each local anchor, which global item sits in every column of its pool and which column is its positive.

Item labels: ``("pos", g)`` is the positive of global anchor g, ``("neg", g, k)`` its k-th hard negative, with
g = rank * B + i. The embedding of an item is a one-hot vector at its own position, so columns can be read back
from the candidate rows themselves."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

from mmcontrast.distributed import rank, world_size
from mmcontrast.negatives.in_batch import InBatchNegatives


def main(output: str, batch: int, k: int) -> None:
    if dist.is_available() and not dist.is_initialized() and "WORLD_SIZE" in __import__("os").environ:
        dist.init_process_group("gloo")
    r, n = rank(), world_size()
    items = [("pos", g) for g in range(n * batch)] + [("neg", g, j) for g in range(n * batch) for j in range(k)]
    eye = torch.eye(len(items))
    local = range(r * batch, (r + 1) * batch)
    positives = torch.stack([eye[items.index(("pos", g))] for g in local]).requires_grad_()
    hard = torch.stack([torch.stack([eye[items.index(("neg", g, j))] for j in range(k)]) for g in local])
    hard.requires_grad_()
    pool, index = InBatchNegatives(gather=True).candidates(positives, hard)
    columns = [items[int(row.argmax())] for row in pool.detach()]
    # the gradient reaches this process's own rows only: d(sum of pool)/d(rows) is 1 per row, from every process
    pool.sum().backward()
    result = {
        "rank": r, "world": n, "columns": [list(c) for c in columns], "positive_index": index.tolist(),
        "positive_grad": positives.grad.sum().item(), "hard_grad": hard.grad.sum().item(),
    }
    with open(f"{output}.{r}.json", "w") as handle:
        json.dump(result, handle)
    if dist.is_initialized():
        dist.barrier()  # no rank tears gloo down while the other still communicates (it aborted 1 run in 3)
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
