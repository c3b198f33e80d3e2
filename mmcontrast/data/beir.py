"""Training rows from a BEIR collection (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``): the
passages themselves for self-supervised in-domain training (inverse cloze, title/body pairs), and
(query, gold passage, hard negatives) rows for DPR (Karpukhin et al. 2020), with negatives mined by BM25 or kept
to in-batch ones.

Rows of ``beir_corpus``: ``{id, title, text, sentences}``; ``text`` is the body (with ``strip_title`` the title
is cut from its start when the body repeats it, as Cranfield's passages do, so that a title/body pair is not a
copy task), ``sentences`` the body split after terminal punctuation (for ``inverse_cloze``).

Rows of ``beir_pairs``: ``{query, positive, negative_1 .. negative_n}`` (the n-tuple layout of
sentence-transformers and of ``view: query_passage``), from the judged (query, relevant passage) pairs of a qrels
split (``pairs: qrels``) or from the corpus's titles and bodies (``pairs: title_body``: weak supervision).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Literal

from .beir_files import load_beir, read_jsonl
from .errors import DataError
from .hard_negatives import mine_bm25_negatives, negative_rows
from .text import RowsDataset

PairSource = Literal["qrels", "title_body"]
#: A sentence ends at ., ! or ? followed by white space.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage: cut after terminal punctuation followed by white space; empty pieces dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def body_of(title: str, text: str) -> str:
    """``text`` without a leading copy of ``title`` (case-insensitive, surrounding white space ignored)."""
    head = title.strip()
    if head and text.lstrip().lower().startswith(head.lower()):
        return text.lstrip()[len(head):].strip()
    return text


def beir_corpus(
    path: str,
    strip_title: bool = True,
    skip_empty: bool = True,
    min_sentences: int = 1,
    require_title: bool = False,
    limit: int | None = None,
) -> RowsDataset:
    """Passages of ``<path>/corpus.jsonl`` as rows ``{id, title, text, sentences}``.

    Args:
        strip_title: cut a leading copy of the title from the body.
        skip_empty: leave passages with an empty text out (reported with their count by a ``UserWarning``);
            otherwise an empty passage is an error naming its line.
        min_sentences: drop passages whose body has fewer sentences (``inverse_cloze`` with ``window: w`` needs
            at least 2 for a sentence and a passage around it).
        require_title: drop passages without a title, or whose body is empty once the title is cut
            (``title_body``).
        limit: keep the first ``limit`` rows.
    """
    corpus = Path(path) / "corpus.jsonl"
    if not corpus.is_file():
        raise FileNotFoundError(f"BEIR corpus not found: {corpus}")
    ids, titles, texts, skipped = read_jsonl(corpus, with_title=True, skip_empty=skip_empty)
    if skipped:
        warnings.warn(f"{corpus}: {len(skipped)} empty passage(s) left out (ids {', '.join(skipped[:5])})",
                      UserWarning, stacklevel=2)
    rows: list[dict[str, Any]] = []
    for pid, title, text in zip(ids, titles, texts):
        body = body_of(title, text) if strip_title else text
        if require_title and not (title.strip() and body):
            continue
        sentences = split_sentences(body)
        if len(sentences) < min_sentences:
            continue
        rows.append({"id": pid, "title": title.strip(), "text": body, "sentences": sentences})
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise DataError(f"{corpus}: no passage left with at least {min_sentences} sentence(s)"
                        f"{' and a title' if require_title else ''} ({len(ids)} passages read)")
    return RowsDataset(rows, str(corpus))


def beir_pairs(
    path: str,
    pairs: PairSource = "qrels",
    split: str = "train",
    num_hard_negatives: int = 0,
    mining: Literal["bm25"] = "bm25",
    stopwords: str | None = "en",
    include_title: bool = True,
    strip_title: bool = True,
    min_grade: int = 1,
) -> RowsDataset:
    """(query, gold passage[, BM25 hard negatives]) rows of a BEIR collection.

    Args:
        pairs: ``qrels`` (every judgement of ``qrels/<split>.tsv`` with grade >= ``min_grade``; queries from
            ``queries.jsonl``) or ``title_body`` (each passage's title is the query, its body the positive).
        num_hard_negatives: n BM25-mined negatives per pair (``data.hard_negatives.mine_bm25_negatives``: never a gold
            passage of the query nor a passage with the same text); pairs with fewer candidates are left out and
            reported. 0: in-batch negatives only.
        include_title: ``qrels`` passages (positives and negatives) are ``title + " " + text``, as the retrieval
            evaluator embeds them.
        strip_title: ``title_body``: cut a leading copy of the title from the body.
    """
    if pairs not in ("qrels", "title_body"):
        raise ValueError(f"beir_pairs: pairs must be 'qrels' or 'title_body', got '{pairs}'")
    if mining != "bm25":
        raise ValueError(f"beir_pairs: mining must be 'bm25' (dense mining: retrieval.mine_dense_negatives), "
                         f"got '{mining}'")
    if num_hard_negatives < 0:
        raise ValueError(f"beir_pairs: num_hard_negatives must be >= 0, got {num_hard_negatives}")
    if pairs == "title_body":
        corpus = beir_corpus(path, strip_title=strip_title, require_title=True)
        queries = [row["title"] for row in corpus.rows]
        passages = [row["text"] for row in corpus.rows]
        gold = [(i, i) for i in range(len(passages))]
        source = f"{path} (title/body pairs)"
    else:
        data = load_beir(path, split, skip_empty=True)
        queries, passages = data.queries, data.passages(include_title=include_title)
        q_row = {qid: i for i, qid in enumerate(data.query_ids)}
        p_row = {pid: i for i, pid in enumerate(data.passage_ids)}
        gold = [(q_row[qid], p_row[pid]) for qid, judged in data.qrels.items()
                for pid, grade in judged.items() if grade >= min_grade]
        if not gold:
            raise DataError(f"{path}/qrels/{split}.tsv: no judgement with grade >= {min_grade}")
        source = f"{path} (qrels/{split}.tsv)"
    if num_hard_negatives:
        mined = mine_bm25_negatives(queries, passages, gold, num_hard_negatives, stopwords=stopwords)
        rows = negative_rows(queries, passages, gold, mined, num_hard_negatives, anchor="query")
    else:
        rows = [{"query": queries[q], "positive": passages[p]} for q, p in gold]
    return RowsDataset(rows, source)
