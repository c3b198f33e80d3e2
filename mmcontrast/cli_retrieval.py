"""``mmcontrast index`` and ``mmcontrast search``: build a FAISS index of a BEIR corpus with a config's model, and
search it with query texts or a BEIR query set (metrics, and Recall@10 and throughput against exact search).

The command side of ``retrieval/`` (it reads configs and restores trained models, so it sits next to ``cli.py``,
above the library layers it uses)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .config import Config, config_to_yaml, load_config
from .data.beir_files import load_beir
from .retrieval.ann import check_index_spec, recall_against_exact
from .retrieval.corpus_index import CONFIG_FILE, CorpusIndex, build_corpus_index, timed_searches
from .retrieval.encoding import encode_texts
from .retrieval.metrics import evaluate
from .retrieval.run import run_from_indices
from .training.restore import restore_model


def parse_index_params(kind: str, params: list[str]) -> dict[str, Any]:
    """``--kind hnsw --param m=32 --param ef_search=64`` -> a checked spec; errors name ``index.<key>``."""
    spec: dict[str, Any] = {"kind": kind}
    for text in params:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param '{text}' must look like key=value (e.g. m=32)")
        try:
            spec[key.strip()] = int(value)
        except ValueError:
            raise ValueError(f"'index.{key.strip()}' must be an integer, got {value!r}") from None
    return check_index_spec(spec)


def _model(cfg: Config, checkpoint: str | None, untrained: bool = False) -> tuple[Any, str | None]:
    """The model (eval mode) and the checkpoint it was read from (None: the untrained model)."""
    restored = restore_model(cfg, checkpoint, untrained)
    restored.model.eval()
    return restored.model, None if restored.checkpoint is None else str(restored.checkpoint)


def index_command(cfg: Config, corpus: str, out: str, kind: str, params: list[str], similarity: str,
                  checkpoint: str | None, batch_size: int, untrained: bool = False) -> dict[str, Any]:
    """Embed ``corpus`` with the config's model (latest checkpoint, ``checkpoint``, or the model the config starts
    from when ``untrained``) and save the index to ``out``, recording which; returns a summary (rows, dimension,
    seconds)."""
    spec = parse_index_params(kind, params)
    model, used = _model(cfg, checkpoint, untrained)
    index, seconds = build_corpus_index(model, corpus, spec, similarity, batch_size,  # type: ignore[arg-type]
                                        cfg.prompts.get("passage", ""),
                                        extra={"checkpoint": used, "untrained": used is None,
                                               "query_prefix": cfg.prompts.get("query", "")})
    index.save(out, config_to_yaml(cfg))
    return {"index": str(out), "spec": index.index.spec, "passages": index.index.size, "dim": index.index.dim,
            "seconds": seconds}


def search_command(index_dir: str, queries: list[str], beir: str | None, split: str, k: int, compare_exact: bool,
                   config: str | None, overrides: list[str], checkpoint: str | None, batch_size: int) -> Any:
    """Search ``index_dir`` with the model it was built with (its ``config.yaml`` and checkpoint, unless
    ``config`` / ``checkpoint`` are given). Texts: their hits. A BEIR folder: nDCG/MRR/Recall of the ANN run on
    ``split``; with ``compare_exact`` also Recall@``k`` of the index against exact search and the queries per
    second of both (exact search over the vectors read back from the index)."""
    corpus = CorpusIndex.load(index_dir)
    cfg = load_config(config or Path(index_dir) / CONFIG_FILE, overrides)
    recorded = corpus.index.extra.get("checkpoint")
    model, _ = _model(cfg, checkpoint or recorded,
                      untrained=checkpoint is None and recorded is None and bool(corpus.index.extra.get("untrained")))
    prefix = corpus.index.extra.get("query_prefix", "")
    if beir is None:
        hits = corpus.search(model, queries, k, batch_size, prefix)
        return [{"query": q, "hits": [{"id": pid, "score": round(s, 6)} for pid, s in row]}
                for q, row in zip(queries, hits)]
    data = load_beir(beir, split, skip_empty=True)
    query_ids, texts = data.evaluated()
    embeddings = encode_texts(model, texts, "query", batch_size, prefix)
    depth = max(k, 100)
    start = time.perf_counter()
    _, indices = corpus.index.search(embeddings, depth)
    seconds = time.perf_counter() - start
    run = run_from_indices(query_ids, corpus.passage_ids, indices)
    result: dict[str, Any] = {"queries": len(query_ids), **evaluate(run, data.qrels, sorted({1, 10, 100, k})),
                              "ann_qps": len(query_ids) / max(seconds, 1e-9)}
    if compare_exact:
        timing = timed_searches(corpus.index, corpus.index.vectors(), embeddings, k)
        result.update({f"ann_recall@{k}_vs_exact": recall_against_exact(timing["ann_indices"],
                                                                         timing["exact_indices"], k),
                       "ann_qps": timing["ann_qps"], "exact_qps": timing["exact_qps"]})
    return result


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))
