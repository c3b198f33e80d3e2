"""Nearest-neighbour retrieval grid: look at what an encoder considers similar.

For fixed test queries, the k most cosine-similar training images are retrieved from frozen features and
drawn as a PNG grid (one row per query: the query, then its neighbours from most to least similar, each
neighbour framed green when it shares the query's label and red otherwise), the qualitative figure of
instance-discrimination papers (Wu et al. 2018, Fig. 4; He et al. 2020, MoCo). The number reported is
precision@k: the fraction of retrieved neighbours that carry the query's label.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base import Encoder, Evaluator, check_inputs, encode, num_inputs
from .inputs import LabelledSection, labelled_inputs
from .linear_probe import check_labels

#: RGB colours of the grid: background, query frame, same-label frame, other-label frame.
BACKGROUND = (255, 255, 255)
QUERY_COLOUR = (40, 90, 220)
SAME_COLOUR = (0, 170, 0)
OTHER_COLOUR = (220, 0, 0)


def nearest_neighbours(queries: torch.Tensor, memory: torch.Tensor, k: int,
                       chunk_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k cosine neighbours: ``(similarities (Q, k), indices (Q, k))`` of each query row (Q, D) among the
    memory rows (N, D), most similar first; ``k`` is clipped to N."""
    if queries.dim() != 2 or memory.dim() != 2 or queries.shape[1] != memory.shape[1]:
        raise ValueError(f"nearest_neighbours: queries (Q, D) and memory (N, D) must share D, got "
                         f"{tuple(queries.shape)} and {tuple(memory.shape)}")
    if memory.shape[0] == 0:
        raise ValueError("nearest_neighbours: the memory is empty")
    if k < 1:
        raise ValueError(f"nearest_neighbours: k must be >= 1, got {k}")
    k = min(k, memory.shape[0])
    memory = F.normalize(memory.float(), dim=1)
    sims, idx = [], []
    for start in range(0, queries.shape[0], chunk_size):
        block = F.normalize(queries[start : start + chunk_size].float(), dim=1) @ memory.T  # (c, N)
        top = block.topk(k, dim=1)
        sims.append(top.values)
        idx.append(top.indices)
    return torch.cat(sims), torch.cat(idx)


def precision_at_k(query_labels: torch.Tensor, neighbour_labels: torch.Tensor) -> float:
    """Fraction of neighbours whose label equals their query's: labels (Q,) and neighbour labels (Q, k)."""
    return float((neighbour_labels == query_labels.unsqueeze(1)).float().mean())


def _to_pil(image: torch.Tensor, what: str):  # -> PIL.Image.Image
    """(C, H, W) image with C in {1, 3}: uint8 as is; floats in [0, 1] scaled by 255, others clamped to
    [0, 255]. Returns an RGB PIL image."""
    from PIL import Image

    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{what}: expected an image (C, H, W) with 1 or 3 channels, got {tuple(image.shape)}")
    tensor = image.detach().cpu()
    if tensor.dtype != torch.uint8:
        tensor = tensor.float()
        if float(tensor.min()) >= 0.0 and float(tensor.max()) <= 1.0:
            tensor = tensor * 255.0
        tensor = tensor.round().clamp(0, 255).to(torch.uint8)
    array = tensor.permute(1, 2, 0).numpy()
    array = np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array
    return Image.fromarray(np.ascontiguousarray(array))  # (H, W, 3) uint8: RGB


def grid_size(num_queries: int, k: int, cell_size: int = 64, border: int = 3, pad: int = 4,
              gap: int = 12) -> tuple[int, int]:
    """(width, height) in pixels of ``save_neighbour_grid``'s PNG: each tile is ``cell_size + 2 * border``
    square, tiles are ``pad`` apart (and from the edges), plus ``gap`` between the query column and the
    neighbours."""
    tile = cell_size + 2 * border
    return pad + (k + 1) * (tile + pad) + gap, pad + num_queries * (tile + pad)


def save_neighbour_grid(queries: torch.Tensor, neighbours: torch.Tensor, same_label: torch.Tensor,
                        path: str | os.PathLike[str], cell_size: int = 64, border: int = 3, pad: int = 4,
                        gap: int = 12) -> Path:
    """Draw and save (atomically) a PNG grid of queries and their neighbours; returns the path.

    Args:
        queries: (Q, C, H, W) query images, C in {1, 3}, uint8 (or float in [0, 1] / [0, 255]).
        neighbours: (Q, k, C, H', W') their neighbours, most similar first (any size: each image is scaled to
            fit a ``cell_size`` square, nearest-neighbour when enlarged, keeping its aspect ratio).
        same_label: (Q, k) bool: frame the neighbour green (True) or red (False); queries are framed blue.
        path: the PNG file; parent folders are created.

    The image is ``grid_size(Q, k, cell_size, border, pad, gap)`` pixels, on a white background.
    """
    from PIL import Image

    if queries.dim() != 4 or queries.shape[0] == 0:
        raise ValueError(f"save_neighbour_grid: queries must be (Q, C, H, W) with Q >= 1, got {tuple(queries.shape)}")
    if neighbours.dim() != 5 or neighbours.shape[0] != queries.shape[0] or neighbours.shape[1] == 0:
        raise ValueError(f"save_neighbour_grid: neighbours must be (Q, k, C, H, W) with Q = {queries.shape[0]} "
                         f"and k >= 1, got {tuple(neighbours.shape)}")
    if tuple(same_label.shape) != tuple(neighbours.shape[:2]):
        raise ValueError(f"save_neighbour_grid: same_label must have shape {tuple(neighbours.shape[:2])}, got "
                         f"{tuple(same_label.shape)}")
    for name, value in (("cell_size", cell_size), ("border", border), ("pad", pad), ("gap", gap)):
        if not isinstance(value, int) or value < (1 if name == "cell_size" else 0):
            raise ValueError(f"save_neighbour_grid: {name} must be an integer >= "
                             f"{1 if name == 'cell_size' else 0}, got {value!r}")
    path = Path(path)
    num_queries, k = same_label.shape
    tile = cell_size + 2 * border
    canvas = Image.new("RGB", grid_size(num_queries, k, cell_size, border, pad, gap), BACKGROUND)

    def draw(image: torch.Tensor, colour: tuple[int, int, int], x: int, y: int, what: str) -> None:
        picture = _to_pil(image, what)
        scale = cell_size / max(picture.width, picture.height)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS)
        canvas.paste(colour, (x, y, x + tile, y + tile))
        canvas.paste(BACKGROUND, (x + border, y + border, x + border + cell_size, y + border + cell_size))
        canvas.paste(picture, (x + border + (cell_size - size[0]) // 2, y + border + (cell_size - size[1]) // 2))

    for q in range(num_queries):
        y = pad + q * (tile + pad)
        draw(queries[q], QUERY_COLOUR, pad, y, f"query {q}")
        for j in range(k):
            x = pad + (j + 1) * (tile + pad) + gap
            draw(neighbours[q, j], SAME_COLOUR if bool(same_label[q, j]) else OTHER_COLOUR, x, y,
                 f"neighbour {j} of query {q}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    canvas.save(partial, format="PNG")
    os.replace(partial, path)
    return path


class NeighbourGridEvaluator(Evaluator):
    """Precision@k of cosine nearest neighbours for fixed test queries, and a PNG grid of them.

    ``num_queries`` test images are drawn once (seeded) from ``test_inputs`` (M, C, H, W); at each call the
    training images (N, C, H, W) and the queries are encoded, each query's ``k`` most similar training
    images are retrieved, ``path`` is (re)written with ``save_neighbour_grid`` and
    ``{f"{name}/precision_at_k": fraction of neighbours with the query's label}`` is returned (primary).
    A model with non-finite features gets nan and no image.
    """

    primary = "precision_at_k"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section(LabelledSection):
        """Config keys of evaluator ``neighbour_grid``: a PNG grid (``path``) of ``num_queries`` seeded test images
        and their ``k`` cosine-nearest training images (green frame: same label, red: other)."""

        path: str
        num_queries: int = 8
        k: int = 8
        seed: int = 0
        cell_size: int = 64
        prefix: str = "neighbours"
        batch_size: int = 256

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The labelled splits of evaluator ``neighbour_grid``."""
        return labelled_inputs(section, "neighbour_grid")

    def __init__(self, train_inputs: torch.Tensor, train_labels: Sequence[int] | torch.Tensor,
                 test_inputs: torch.Tensor, test_labels: Sequence[int] | torch.Tensor, path: str,
                 num_queries: int = 8, k: int = 8, seed: int = 0, name: str = "neighbours",
                 batch_size: int = 256, cell_size: int = 64) -> None:
        super().__init__(name, batch_size)
        owner = type(self).__name__
        if not isinstance(train_inputs, torch.Tensor) or not isinstance(test_inputs, torch.Tensor):
            raise TypeError(f"{owner}: train_inputs and test_inputs must be image tensors (N, C, H, W)")
        self.train_inputs = check_inputs(train_inputs, f"{owner} train_inputs")
        test_inputs = check_inputs(test_inputs, f"{owner} test_inputs")
        self.train_labels = check_labels(train_labels, num_inputs(self.train_inputs), f"{owner}: train_labels")
        test_labels = check_labels(test_labels, num_inputs(test_inputs), f"{owner}: test_labels")
        if not isinstance(num_queries, int) or num_queries < 1:
            raise ValueError(f"{owner}: num_queries must be a positive integer, got {num_queries!r}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"{owner}: k must be a positive integer, got {k!r}")
        if Path(path).suffix.lower() != ".png":
            raise ValueError(f"{owner}: path must name a .png file, got {path!r}")
        if not isinstance(cell_size, int) or cell_size < 1:
            raise ValueError(f"{owner}: cell_size must be a positive integer, got {cell_size!r}")
        generator = torch.Generator().manual_seed(seed)
        #: Rows of ``test_inputs`` used as queries (Q,), fixed at construction.
        self.query_index = torch.randperm(num_inputs(test_inputs), generator=generator)[:num_queries]
        self.query_inputs = test_inputs[self.query_index]
        self.query_labels = test_labels[self.query_index]
        self.path = Path(path)
        self.k = min(k, num_inputs(self.train_inputs))
        self.cell_size = cell_size

    def __call__(self, model: Encoder) -> dict[str, float]:
        memory = encode(model, self.train_inputs, self.batch_size, f"{self.name} train_inputs")
        queries = encode(model, self.query_inputs, self.batch_size, f"{self.name} queries")
        return {self.key("precision_at_k"): self.render(memory, queries)}

    def render(self, memory: torch.Tensor, queries: torch.Tensor) -> float:
        """Retrieve, draw and score from features already computed: memory (N, D) for the training images,
        queries (Q, D) for ``query_inputs``. Returns precision@k (nan, without an image, for non-finite
        features)."""
        if not (bool(torch.isfinite(memory).all()) and bool(torch.isfinite(queries).all())):
            return float("nan")
        _, idx = nearest_neighbours(queries, memory, self.k)  # (Q, k)
        neighbour_labels = self.train_labels[idx]
        same = neighbour_labels == self.query_labels.unsqueeze(1)
        save_neighbour_grid(self.query_inputs, self.train_inputs[idx], same, self.path, cell_size=self.cell_size)
        return precision_at_k(self.query_labels, neighbour_labels)
