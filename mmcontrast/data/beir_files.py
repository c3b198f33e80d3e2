"""Reading a retrieval collection in the BEIR layout (Thakur et al. 2021, "BEIR: A Heterogeneous Benchmark for
Zero-shot Evaluation of Information Retrieval Models").

A BEIR folder holds ``corpus.jsonl`` (one passage per line: ``{"_id", "title", "text"}``), ``queries.jsonl``
(``{"_id", "text"}``) and ``qrels/<split>.tsv`` (tab-separated ``query-id corpus-id score`` with that header line;
the score is an integer relevance grade, > 0 meaning relevant).

Bad input is never skipped silently: a missing file, a malformed line, an empty text or a duplicate id is an
error naming the file and the 1-based line; judgements naming an unknown query or passage id are reported with
counts (a ``BeirWarning`` and the ``BeirStats`` of the result) and then left out of scoring. Collections with
empty rows (Cranfield has two empty passages) load with ``skip_empty=True``, which reports them the same way.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Iterator

#: Qrels: query id -> passage id -> integer relevance grade (> 0: relevant).
Qrels = dict[str, dict[str, int]]

#: How many unknown ids a report quotes.
EXAMPLES = 5


class BeirWarning(UserWarning):
    """Judgements that name ids absent from ``queries.jsonl`` or ``corpus.jsonl``, or empty rows skipped
    (reported with counts, then left out of scoring)."""


@dataclass(frozen=True)
class BeirStats:
    """What loading a BEIR split found.

    Attributes:
        passages, queries: rows read from ``corpus.jsonl`` and ``queries.jsonl``.
        judgements: qrels lines kept (both ids known).
        unknown_query_judgements / unknown_passage_judgements: qrels lines dropped because their query id /
            passage id is not in ``queries.jsonl`` / ``corpus.jsonl`` (a line with both unknown counts in both).
        unknown_query_ids / unknown_passage_ids: the distinct unknown ids (sorted).
        evaluated_queries: queries with at least one relevant (grade > 0) judgement in the split.
        queries_without_relevant: queries judged in the split whose judgements are all grade <= 0 (not evaluated).
        dropped_judgements: qrels lines left out of scoring (an unknown or empty query or passage).
        empty_passage_ids / empty_query_ids: rows with an empty text left out (``skip_empty=True``), file order.
        empty_judgements: qrels lines dropped because they name such an empty row.
    """

    passages: int
    queries: int
    judgements: int
    unknown_query_judgements: int = 0
    unknown_passage_judgements: int = 0
    unknown_query_ids: tuple[str, ...] = ()
    unknown_passage_ids: tuple[str, ...] = ()
    evaluated_queries: int = 0
    queries_without_relevant: int = 0
    dropped_judgements: int = 0
    empty_passage_ids: tuple[str, ...] = ()
    empty_query_ids: tuple[str, ...] = ()
    empty_judgements: int = 0

    def problems(self, where: str | Path = "qrels") -> str | None:
        """A one-paragraph report of the unknown ids and skipped empty rows with counts, or None when every row
        and judgement was kept."""
        if not (self.dropped_judgements or self.empty_passage_ids or self.empty_query_ids):
            return None
        parts = []
        for what, ids in (("passage", self.empty_passage_ids), ("query", self.empty_query_ids)):
            if ids:
                parts.append(f"{len(ids)} empty {what}(s) skipped (ids {_examples(ids)})")
        if self.empty_judgements:
            parts.append(f"{self.empty_judgements} judgement(s) name them")
        if self.unknown_query_judgements:
            parts.append(f"{self.unknown_query_judgements} judgement(s) name {len(self.unknown_query_ids)} query id(s) "
                         f"not in queries.jsonl (e.g. {_examples(self.unknown_query_ids)})")
        if self.unknown_passage_judgements:
            parts.append(f"{self.unknown_passage_judgements} judgement(s) name {len(self.unknown_passage_ids)} "
                         f"passage id(s) not in corpus.jsonl (e.g. {_examples(self.unknown_passage_ids)})")
        return (f"{where}: {'; '.join(parts)}; these {self.dropped_judgements} of "
                f"{self.dropped_judgements + self.judgements} judgement(s) are left out of scoring")


def _examples(ids: tuple[str, ...]) -> str:
    shown = ", ".join(repr(i) for i in ids[:EXAMPLES])
    return shown + (", ..." if len(ids) > EXAMPLES else "")


@dataclass
class BeirData:
    """One split of a BEIR collection, in file order.

    ``passage_ids[i]``, ``titles[i]`` and ``texts[i]`` describe passage ``i``; ``query_ids[j]`` and ``queries[j]``
    query ``j``; ``qrels`` holds only judgements whose query and passage ids are both known.
    """

    path: Path
    split: str
    passage_ids: list[str]
    titles: list[str]
    texts: list[str]
    query_ids: list[str]
    queries: list[str]
    qrels: Qrels
    stats: BeirStats

    def passages(self, include_title: bool = True, prefix: str = "") -> list[str]:
        """Passage strings to embed or index: ``prefix + title + " " + text`` (``prefix + text`` without a title
        or with ``include_title=False``), the convention of BEIR's dense and BM25 baselines."""
        if not include_title:
            return [prefix + text for text in self.texts]
        return [prefix + (f"{title} {text}" if title.strip() else text) for title, text in zip(self.titles, self.texts)]

    def evaluated(self) -> tuple[list[str], list[str]]:
        """``(query_ids, query_texts)`` of the queries with at least one relevant judgement, in file order:
        the queries a retrieval metric averages over."""
        keep = [(i, t) for i, t in zip(self.query_ids, self.queries) if _has_relevant(self.qrels.get(i))]
        return [i for i, _ in keep], [t for _, t in keep]


def _has_relevant(judged: dict[str, int] | None) -> bool:
    return bool(judged) and any(grade > 0 for grade in judged.values())  # type: ignore[union-attr]


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"BEIR {what} not found: {path}" if not path.exists()
                                else f"BEIR {what} is not a file: {path}")


def _nonblank_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line)`` for the non-blank lines of a UTF-8 file."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid UTF-8 ({e})") from e


def _text_field(row: dict[str, object], key: str, where: str, required: bool) -> str:
    value = row.get(key, None if required else "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str):
        missing = key not in row
        raise ValueError(f"{where}: {'missing' if missing else 'non-string'} '{key}' field"
                         + ("" if missing else f" ({type(value).__name__})"))
    return value


def read_jsonl(path: Path, with_title: bool, skip_empty: bool) -> tuple[list[str], list[str], list[str], list[str]]:
    """``(ids, titles, texts, skipped ids)`` of a BEIR ``corpus.jsonl`` / ``queries.jsonl``; errors name
    ``path:line``. Rows with an empty text are an error, or skipped (their ids returned) with ``skip_empty``."""
    skipped: list[str] = []
    ids: list[str] = []
    titles: list[str] = []
    texts: list[str] = []
    first_line: dict[str, int] = {}
    what = "passage" if with_title else "query"
    for number, line in _nonblank_lines(path):
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object with '_id' and 'text', got {type(row).__name__}")
        raw_id = row.get("_id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
            raise ValueError(f"{where}: missing or invalid '_id' ({raw_id!r})")
        row_id = str(raw_id)
        if row_id in first_line:
            raise ValueError(f"{where}: duplicate {what} id {row_id!r} (first on line {first_line[row_id]})")
        text = _text_field(row, "text", where, required=True)
        first_line[row_id] = number
        if not text.strip():
            if skip_empty:
                skipped.append(row_id)
                continue
            raise ValueError(f"{where}: empty {what} text (id {row_id!r}); load with skip_empty=True (evaluator "
                             f"key skip_empty: true) to leave empty rows out, reported with counts")
        ids.append(row_id)
        titles.append(_text_field(row, "title", where, required=False) if with_title else "")
        texts.append(text)
    if not ids:
        raise ValueError(f"{path}: no {what} rows" + (f" ({len(skipped)} empty row(s) skipped)" if skipped
                                                      else " (the file is empty)"))
    return ids, titles, texts, skipped


def _read_qrels(path: Path) -> list[tuple[int, str, str, int]]:
    """``(line, query id, passage id, grade)`` rows of a qrels TSV; the header line is optional."""
    rows: list[tuple[int, str, str, int]] = []
    first_line: dict[tuple[str, str], int] = {}
    for index, (number, line) in enumerate(_nonblank_lines(path)):
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path}:{number}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                             f"found {len(fields)}")
        query_id, passage_id, score = (f.strip() for f in fields)
        if index == 0 and (query_id, passage_id, score) == ("query-id", "corpus-id", "score"):
            continue  # the header
        if not query_id or not passage_id:
            raise ValueError(f"{path}:{number}: empty query-id or corpus-id")
        try:
            grade = int(score)
        except ValueError:
            raise ValueError(f"{path}:{number}: score must be an integer relevance grade, got {score!r}") from None
        key = (query_id, passage_id)
        if key in first_line:
            raise ValueError(f"{path}:{number}: duplicate judgement of query {query_id!r}, passage {passage_id!r} "
                             f"(first on line {first_line[key]})")
        first_line[key] = number
        rows.append((number, query_id, passage_id, grade))
    if not rows:
        raise ValueError(f"{path}: no judgements (the file is empty or holds only its header)")
    return rows


def qrels_path(path: str | PathLike[str], split: str) -> Path:
    """``<path>/qrels/<split>.tsv``; a missing file is a ``FileNotFoundError`` that lists the splits present."""
    folder = Path(path)
    file = folder / "qrels" / f"{split}.tsv"
    if not file.is_file():
        present = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise FileNotFoundError(f"BEIR qrels not found: {file} (splits present: {', '.join(present) or 'none'})")
    return file


def load_beir(path: str | PathLike[str], split: str = "test", skip_empty: bool = False, warn: bool = True) -> BeirData:
    """Read the BEIR folder ``path`` with the judgements of ``qrels/<split>.tsv``.

    Judgements naming a query id absent from ``queries.jsonl`` or a passage id absent from ``corpus.jsonl``
    are counted in ``result.stats``, reported by a ``BeirWarning`` (unless ``warn=False``) and left out of
    ``result.qrels``. With ``skip_empty``, passages and queries whose text is empty are left out instead of
    raising; their ids are in ``result.stats`` and reported by a ``BeirWarning`` together with the count of
    judgements naming them (dropped too).

    Raises ``FileNotFoundError`` naming the missing file (for qrels, with the splits present);
    ``ValueError(f"{file}:{line}: ...")`` for malformed JSON, a missing or duplicate ``_id``, a missing,
    non-string or empty ``text``, a qrels line without 3 tab-separated fields, a non-integer score or a
    duplicate judgement; ``ValueError`` naming the file when it holds no rows or no judgement survives.
    """
    folder = Path(path)
    corpus_file, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    _require_file(corpus_file, "corpus")
    _require_file(queries_file, "queries")
    qrels_file = qrels_path(folder, split)
    passage_ids, titles, texts, empty_p = read_jsonl(corpus_file, with_title=True, skip_empty=skip_empty)
    query_ids, _, queries, empty_q = read_jsonl(queries_file, with_title=False, skip_empty=skip_empty)
    known_passages, known_queries = set(passage_ids), set(query_ids)
    empty = set(empty_p), set(empty_q)
    qrels: Qrels = {}
    unknown_q: dict[str, int] = {}
    unknown_p: dict[str, int] = {}
    dropped = kept = empty_judgements = 0
    for _, query_id, passage_id, grade in _read_qrels(qrels_file):
        if passage_id in empty[0] or query_id in empty[1]:
            empty_judgements += 1
            dropped += 1
            continue
        bad_q, bad_p = query_id not in known_queries, passage_id not in known_passages
        if bad_q:
            unknown_q[query_id] = unknown_q.get(query_id, 0) + 1
        if bad_p:
            unknown_p[passage_id] = unknown_p.get(passage_id, 0) + 1
        if bad_q or bad_p:
            dropped += 1
            continue
        qrels.setdefault(query_id, {})[passage_id] = grade
        kept += 1
    evaluated = sum(_has_relevant(judged) for judged in qrels.values())
    stats = BeirStats(
        passages=len(passage_ids), queries=len(query_ids), judgements=kept,
        unknown_query_judgements=sum(unknown_q.values()), unknown_passage_judgements=sum(unknown_p.values()),
        unknown_query_ids=tuple(sorted(unknown_q)), unknown_passage_ids=tuple(sorted(unknown_p)),
        evaluated_queries=evaluated, queries_without_relevant=len(qrels) - evaluated, dropped_judgements=dropped,
        empty_passage_ids=tuple(empty_p), empty_query_ids=tuple(empty_q), empty_judgements=empty_judgements,
    )
    report = stats.problems(f"{folder} (qrels/{split}.tsv)")
    if report and warn:
        warnings.warn(report, BeirWarning, stacklevel=2)
    if not evaluated:
        raise ValueError(f"{qrels_file}: no query has a relevant judgement (grade > 0) naming a known query and "
                         f"passage" + (f"; {report}" if report else ""))
    return BeirData(folder, split, passage_ids, titles, texts, query_ids, queries, qrels, stats)


def load_beir_corpus(path: str | PathLike[str], skip_empty: bool = False) -> tuple[list[str], list[str]]:
    """``(passage_ids, passages)`` of a BEIR folder's ``corpus.jsonl`` alone (no queries or judgements needed),
    passages as ``title + " " + text`` (``BeirData.passages``). Errors as ``load_beir``'s."""
    corpus_file = Path(path) / "corpus.jsonl"
    _require_file(corpus_file, "corpus")
    ids, titles, texts, _ = read_jsonl(corpus_file, with_title=True, skip_empty=skip_empty)
    return ids, [f"{title} {text}" if title.strip() else text for title, text in zip(titles, texts)]
