"""A searchable corpus on disk: the passages of a BEIR ``corpus.jsonl`` embedded by a model and put into a FAISS
index (``ann.AnnIndex``), saved with the passage ids and the config of the model that embedded them, so
``mmcontrast search`` can embed queries the same way. Used by ``mmcontrast index`` / ``mmcontrast search``.

Folder layout: ``index.faiss``, ``index.json`` (spec, similarity, dimension, count, how passages were built,
the checkpoint), ``passage_ids.txt`` (one id a line, row order of the index) and ``config.yaml`` (the model's
config).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..data.beir_files import load_beir_corpus
from .ann import AnnIndex
from .encoding import encode_texts
from .search import Similarity, top_k

IDS_FILE, CONFIG_FILE = "passage_ids.txt", "config.yaml"


@dataclass
class CorpusIndex:
    """An ``AnnIndex`` over a corpus and the id of each of its rows."""

    index: AnnIndex
    passage_ids: list[str]

    def save(self, folder: str | Path, config_yaml: str | None = None) -> Path:
        folder = self.index.save(folder)
        (folder / IDS_FILE).write_text("".join(f"{pid}\n" for pid in self.passage_ids), encoding="utf-8")
        if config_yaml is not None:
            (folder / CONFIG_FILE).write_text(config_yaml, encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "CorpusIndex":
        folder = Path(folder)
        index = AnnIndex.load(folder)
        ids_file = folder / IDS_FILE
        if not ids_file.is_file():
            raise FileNotFoundError(f"{folder} is not a corpus index: {IDS_FILE} is missing")
        ids = ids_file.read_text(encoding="utf-8").splitlines()
        if len(ids) != index.size:
            raise ValueError(f"{ids_file} has {len(ids)} ids, the index {index.size} rows")
        return cls(index, ids)

    def search(self, model: Any, queries: Sequence[str], k: int = 10, batch_size: int = 128,
               query_prefix: str = "") -> list[list[tuple[str, float]]]:
        """The ``k`` best ``(passage id, score)`` of each query text, embedded with ``role="query"``."""
        embeddings = encode_texts(model, queries, "query", batch_size, query_prefix)
        scores, indices = self.index.search(embeddings, k)
        return [[(self.passage_ids[i], s) for i, s in zip(row_i, row_s) if i >= 0]
                for row_i, row_s in zip(indices.tolist(), scores.tolist())]


def build_corpus_index(model: Any, corpus: str | Path, spec: Mapping[str, Any], similarity: Similarity = "cos",
                       batch_size: int = 128, passage_prefix: str = "", skip_empty: bool = True,
                       extra: dict[str, Any] | None = None) -> tuple[CorpusIndex, dict[str, float]]:
    """Embed the passages of the BEIR folder ``corpus`` (``role="passage"``) and index them with ``spec``.
    Returns the index and the seconds of ``encode`` and ``index``."""
    ids, passages = load_beir_corpus(corpus, skip_empty=skip_empty)
    start = time.perf_counter()
    embeddings = encode_texts(model, passages, "passage", batch_size, passage_prefix)
    encoded = time.perf_counter()
    meta = {"corpus": str(corpus), "passage_prefix": passage_prefix, **(extra or {})}
    index = AnnIndex.build(embeddings, spec, similarity, meta)
    return CorpusIndex(index, ids), {"encode": encoded - start, "index": time.perf_counter() - encoded}


def timed_searches(index: AnnIndex, passages: torch.Tensor, queries: torch.Tensor, k: int = 10,
                   repeats: int = 3) -> dict[str, Any]:
    """ANN and exact top-``k`` of the (Q, D) ``queries`` against the (P, D) ``passages`` held by ``index``; the
    best of ``repeats`` wall-clock times of each -> ``{ann_indices, exact_indices, ann_qps, exact_qps}``."""
    def best(fn: Any) -> tuple[Any, float]:
        times, out = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
        return out, min(times)

    (_, ann), ann_s = best(lambda: index.search(queries, k))
    (_, exact), exact_s = best(lambda: top_k(queries, passages, k, index.similarity))
    n = queries.shape[0]
    return {"ann_indices": ann, "exact_indices": exact, "ann_qps": n / max(ann_s, 1e-9),
            "exact_qps": n / max(exact_s, 1e-9)}
