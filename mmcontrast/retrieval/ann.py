"""Approximate nearest-neighbour (ANN) search with FAISS (Johnson et al. 2019, "Billion-scale similarity search
with GPUs"), for corpora where the exact search of ``search.top_k`` is too slow.

Three index kinds, all over inner products (cosine: both sides L2-normalised first, as in ``search.prepare``):

- ``flat``: ``IndexFlatIP``, exhaustive (the exact reference, in FAISS).
- ``ivf``: ``IndexIVFFlat`` (Jegou et al. 2011 inverted file): k-means into ``nlist`` cells, a query visits the
  ``nprobe`` nearest cells. Defaults: ``nlist = clamp(4 * sqrt(P), 1, P // 39)`` (FAISS wants >= 39 training
  points per centroid), ``nprobe = max(1, nlist // 4)``.
- ``hnsw``: ``IndexHNSWFlat`` (Malkov & Yashunin 2018, hierarchical navigable small-world graph): ``m`` links per
  node (default 32), ``ef_construction`` (default 200) and ``ef_search`` (default 128) candidate lists.

FAISS is an optional dependency (``pip install "mmcontrast[ann]"``, the ``faiss-cpu`` package); it is imported
only when an index is built or loaded. An index spec is a mapping such as ``{kind: hnsw, m: 32}``; bad specs fail
with a message naming the key (``check_index_spec``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..registry import closest
from .search import Similarity, check_similarity, prepare

#: Keys each index kind accepts (besides ``kind``), with their types.
KIND_KEYS: dict[str, dict[str, type]] = {
    "flat": {},
    "ivf": {"nlist": int, "nprobe": int, "seed": int},
    "hnsw": {"m": int, "ef_construction": int, "ef_search": int},
}
INDEX_FILE, META_FILE = "index.faiss", "index.json"


def import_faiss() -> Any:
    """The ``faiss`` module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("an ANN index needs FAISS: pip install 'mmcontrast[ann]' (the faiss-cpu package)") from err
    return faiss


def faiss_available() -> bool:
    try:
        import_faiss()
    except ImportError:  # pragma: no cover - depends on the environment
        return False
    return True


def check_index_spec(spec: Any, key: str = "index") -> dict[str, Any]:
    """Validate an index spec ``{kind: flat | ivf | hnsw, <kind keys>}`` -> a copy; ValueError naming ``key.x``."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"'{key}' must be a mapping such as {{kind: hnsw}}, got {spec!r}")
    if "kind" not in spec:
        raise ValueError(f"'{key}.kind' is required: one of {', '.join(KIND_KEYS)}")
    kind = spec["kind"]
    if kind not in KIND_KEYS:
        raise ValueError(f"'{key}.kind' must be one of {', '.join(KIND_KEYS)}, got {kind!r}"
                         f"{closest(str(kind), list(KIND_KEYS))}")
    allowed = KIND_KEYS[kind]
    for name, value in spec.items():
        if name == "kind":
            continue
        if name not in allowed:
            raise ValueError(f"unknown key '{key}.{name}' for index kind '{kind}'{closest(name, list(allowed))}; "
                             f"valid keys: {', '.join(allowed) or '(none)'}")
        minimum = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"'{key}.{name}' must be an integer >= {minimum}, got {value!r}")
    return dict(spec)


def default_nlist(num_passages: int) -> int:
    """IVF cells for P passages: ``4 sqrt(P)``, at most ``P // 39`` (FAISS's minimum training points per cell)."""
    return max(1, min(int(4 * math.sqrt(num_passages)), num_passages // 39))


class AnnIndex:
    """A FAISS index over P passage embeddings (P, D) with its spec and similarity.

    ``build`` adds the embeddings (rows keep their order: a search returns row numbers of the embeddings given),
    ``search`` returns ``(scores, indices)`` like ``search.top_k``; ``save`` / ``load`` write and read a folder
    holding ``index.faiss`` and ``index.json`` (spec, similarity, dimension, count and any ``extra`` metadata,
    e.g. passage ids).
    """

    def __init__(self, index: Any, spec: dict[str, Any], similarity: Similarity, extra: dict[str, Any] | None = None):
        self.index, self.spec, self.similarity = index, spec, similarity
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @classmethod
    def build(cls, embeddings: torch.Tensor, spec: Mapping[str, Any], similarity: Similarity = "cos",
              extra: dict[str, Any] | None = None) -> "AnnIndex":
        """Index the (P, D) ``embeddings`` with ``spec`` (``check_index_spec``) for ``cos`` or ``dot``."""
        faiss = import_faiss()
        spec = check_index_spec(spec)
        check_similarity(similarity)
        if embeddings.dim() != 2 or embeddings.shape[0] == 0:
            raise ValueError(f"an index needs (P, D) embeddings with P >= 1, got shape {tuple(embeddings.shape)}")
        if not torch.isfinite(embeddings).all():
            raise ValueError("cannot index non-finite embeddings (nan or inf)")
        x = np.ascontiguousarray(prepare(embeddings.cpu(), similarity).numpy(), dtype=np.float32)
        n, d = x.shape
        kind = spec["kind"]
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "ivf":
            nlist = spec.setdefault("nlist", default_nlist(n))
            if nlist > n:
                raise ValueError(f"'index.nlist' ({nlist}) must not exceed the number of passages ({n})")
            spec.setdefault("nprobe", max(1, nlist // 4))
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = spec.get("seed", 1234)
            index.train(x)
            index.nprobe = min(spec["nprobe"], nlist)
        else:  # hnsw
            spec.setdefault("m", 32)
            spec.setdefault("ef_construction", 200)
            spec.setdefault("ef_search", 128)
            index = faiss.IndexHNSWFlat(d, spec["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = spec["ef_construction"]
            index.hnsw.efSearch = spec["ef_search"]
        index.add(x)
        return cls(index, spec, similarity, extra)

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top ``min(k, P)`` of each query (Q, D) -> ``(scores, indices)``, both (Q, min(k, P)), best first;
        float32 scores and int64 rows. A row FAISS could not fill (an IVF search that visits too few passages)
        has index -1 and score -inf."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if queries.dim() != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be (Q, {self.dim}) to search this index, got {tuple(queries.shape)}")
        k = min(k, self.size)
        q = np.ascontiguousarray(prepare(queries.cpu(), self.similarity).numpy(), dtype=np.float32)
        scores, indices = self.index.search(q, k)
        scores = np.where(indices < 0, -np.inf, scores).astype(np.float32)
        return torch.from_numpy(scores), torch.from_numpy(indices.astype(np.int64))

    def vectors(self) -> torch.Tensor:
        """The (P, D) vectors the index holds (L2-normalised for ``cos``), read back from FAISS: the exact search
        reference for an index whose embeddings are not kept elsewhere."""
        faiss = import_faiss()
        if self.spec["kind"] == "ivf":
            faiss.extract_index_ivf(self.index).make_direct_map()
        return torch.from_numpy(self.index.reconstruct_n(0, self.size))

    def save(self, folder: str | Path) -> Path:
        """Write ``index.faiss`` and ``index.json`` into ``folder`` (created)."""
        faiss = import_faiss()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / INDEX_FILE))
        meta = {"spec": self.spec, "similarity": self.similarity, "dim": self.dim, "size": self.size, **self.extra}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "AnnIndex":
        """Read an index written by ``save``; the search parameters (``nprobe``, ``ef_search``) are restored."""
        faiss = import_faiss()
        folder = Path(folder)
        for name in (INDEX_FILE, META_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder} is not an index folder: {name} is missing")
        meta = json.loads((folder / META_FILE).read_text())
        index = faiss.read_index(str(folder / INDEX_FILE))
        spec = meta.pop("spec")
        if spec["kind"] == "ivf":
            faiss.extract_index_ivf(index).nprobe = spec["nprobe"]
        elif spec["kind"] == "hnsw":
            index.hnsw.efSearch = spec["ef_search"]
        similarity = meta.pop("similarity")
        for name in ("dim", "size"):
            meta.pop(name, None)
        return cls(index, spec, similarity, meta)


def recall_against_exact(approximate: torch.Tensor, exact: torch.Tensor, k: int = 10) -> float:
    """Mean over queries of ``|ANN top-k & exact top-k| / k`` (the "k-recall@k" of ANN benchmarks) from two
    (Q, >= k) index tensors; 1.0 means the index found every exact neighbour."""
    if approximate.shape[0] != exact.shape[0] or approximate.shape[1] < k or exact.shape[1] < k:
        raise ValueError(f"need (Q, >= {k}) indices on both sides, got {tuple(approximate.shape)} and "
                         f"{tuple(exact.shape)}")
    if approximate.shape[0] == 0:
        return math.nan
    hits = [len(set(a[:k].tolist()) & set(e[:k].tolist())) for a, e in zip(approximate, exact)]
    return float(np.mean(hits) / k)
