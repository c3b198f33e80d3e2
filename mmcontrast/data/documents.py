"""Documents from a sentences-per-line file: the data of the NLP pretext tasks (next sentence, sentence
permutation, inverse cloze, title/body pairs).

A sentences-per-line corpus (SimCSE's ``wiki1m_for_simcse.txt``, BERT pretraining text) keeps its lines in
document order, so documents can be recovered from the lines themselves. Three segmentation rules:

- ``title`` (Wikipedia dumps flattened to one sentence per line): a line is an article TITLE when it does not
  end with terminal punctuation (any character of ``terminal_punctuation``: ``. ! ? : ; " ' ) ]`` and their
  typographic forms) and has at most ``title_max_words`` whitespace-separated words. A title starts a new
  document and becomes its ``title``; it is not one of its sentences. Lines before the first title form a
  document with an empty title. Section headings ("Notes", "1960s") also match the rule and split an article
  into its sections, which keeps neighbouring sentences together.
- ``blank``: blank lines separate documents (the BERT pretraining format); no titles.
- ``window``: every ``window_size`` consecutive non-blank lines form a document; no boundary detection.

Every row is one document (or one chunk of at most ``max_sentences`` sentences of it), so that a batch of B
rows holds B different passages: the views draw the positions of their anchors inside each row with their own
seeded generator, and in-batch negatives then come from other passages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

from ..text_files import numbered_lines
from .errors import DataError, check_nonempty_strings
from .text import RowsDataset

Segment = Literal["title", "blank", "window"]
Split = Literal["all", "train", "heldout"]
SEGMENTS = ("title", "blank", "window")
SPLITS = ("all", "train", "heldout")
TERMINAL_PUNCTUATION = ".!?:;\"')]\u201d\u2019\u00bb\u2026"


def is_title(line: str, max_words: int = 8, terminal_punctuation: str = TERMINAL_PUNCTUATION) -> bool:
    """Whether a stripped non-empty line looks like an article title: no terminal punctuation at its end and at
    most ``max_words`` words (e.g. ``"YMCA in South Australia"`` is one, ``"Report 1851."`` is not)."""
    return bool(line) and line[-1] not in terminal_punctuation and len(line.split()) <= max_words


@dataclass
class Document:
    """A document of the file: its title ("" when none), sentences in order, and 1-based first line."""

    title: str
    line: int
    sentences: list[str] = field(default_factory=list)


def segment_lines(
    lines: Iterable[tuple[int, str]],
    segment: Segment = "title",
    title_max_words: int = 8,
    terminal_punctuation: str = TERMINAL_PUNCTUATION,
    window_size: int = 8,
) -> list[Document]:
    """Numbered lines ``(line_no, text)`` -> documents (possibly empty ones: filter with ``min_sentences``)."""
    docs: list[Document] = []
    current: Document | None = None
    for line_no, raw in lines:
        line = raw.strip()
        if not line:
            if segment == "blank":
                current = None
            continue
        if segment == "title" and is_title(line, title_max_words, terminal_punctuation):
            current = Document(title=line, line=line_no)
            docs.append(current)
            continue
        if current is None or (segment == "window" and len(current.sentences) >= window_size):
            current = Document(title="", line=line_no)
            docs.append(current)
        current.sentences.append(line)
    return docs


def documents(
    path: str,
    segment: Segment = "title",
    title_max_words: int = 8,
    terminal_punctuation: str = TERMINAL_PUNCTUATION,
    window_size: int = 8,
    min_sentences: int = 2,
    max_sentences: int | None = None,
    require_title: bool = False,
    split: Split = "all",
    holdout: float = 0.15,
    limit: int | None = None,
    separator: str = " ",
) -> RowsDataset:
    """Documents of a sentences-per-line file (``.gz`` allowed) as rows.

    Each row: ``{document: int, title: str, sentences: list[str], text: str, line: int}`` where ``document``
    is the document's position in the file (before any filter), ``text`` its sentences joined by ``separator``
    (the body for ``title_body``) and ``line`` the 1-based line of its title (or first sentence).

    Args:
        segment: ``title``, ``blank`` or ``window`` (see the module docstring).
        title_max_words, terminal_punctuation: the title rule of ``segment: title``.
        window_size: sentences per document of ``segment: window``.
        min_sentences: drop documents with fewer sentences (the views need 2 for a neighbour, n for an
            n-sentence passage).
        max_sentences: cut longer documents into consecutive chunks of at most this many sentences, one row
            each (same ``document`` id and title), so that long articles are sampled in proportion to their
            length; a last chunk shorter than ``min_sentences`` is dropped. None keeps documents whole.
        require_title: drop documents without a title (``title_body`` needs one).
        split: ``all``, ``train`` (the first ``1 - holdout`` of the documents) or ``heldout`` (the rest). The
            cut is made on the segmented documents before any filter, so train and held-out rows never share a
            document for the same segmentation settings.
        holdout: fraction of documents in the held-out split (0 < holdout < 1).
        limit: keep the first ``limit`` rows of the split.

    Raises:
        FileNotFoundError: no such file. DataError naming the file: no sentence at all, no document (row) left
        after the filters, bad UTF-8 (with its line).
    """
    if segment not in SEGMENTS:
        raise ValueError(f"documents: segment must be one of {', '.join(SEGMENTS)}, got '{segment}'")
    if split not in SPLITS:
        raise ValueError(f"documents: split must be one of {', '.join(SPLITS)}, got '{split}'")
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"documents: holdout must be a fraction in (0, 1), got {holdout}")
    if min_sentences < 1:
        raise ValueError(f"documents: min_sentences must be >= 1, got {min_sentences}")
    if max_sentences is not None and max_sentences < min_sentences:
        raise ValueError(f"documents: max_sentences ({max_sentences}) must be >= min_sentences ({min_sentences})")
    if title_max_words < 1 or window_size < 1:
        raise ValueError("documents: title_max_words and window_size must be >= 1")
    docs = segment_lines(numbered_lines(Path(path)), segment, title_max_words, terminal_punctuation, window_size)
    if not any(doc.sentences for doc in docs):
        raise DataError(f"{path}: no sentences (the file is empty or every line is a title under segment="
                        f"{segment}, title_max_words={title_max_words})")
    cut = math.ceil(len(docs) * (1.0 - holdout))
    chosen = {"all": range(len(docs)), "train": range(cut), "heldout": range(cut, len(docs))}[split]
    rows: list[dict[str, Any]] = []
    for doc_id in chosen:
        doc = docs[doc_id]
        if require_title and not doc.title:
            continue
        step = max_sentences or max(len(doc.sentences), 1)
        for start in range(0, len(doc.sentences), step):
            chunk = doc.sentences[start : start + step]
            if len(chunk) < min_sentences:
                continue
            rows.append({"document": doc_id, "title": doc.title, "sentences": chunk,
                         "text": separator.join(chunk), "line": doc.line})
        if limit is not None and len(rows) >= limit:
            rows = rows[:limit]
            break
    if not rows:
        raise DataError(f"{path}: no document left in split '{split}' with at least {min_sentences} sentences"
                        f"{' and a title' if require_title else ''} ({len(docs)} documents in the file, "
                        f"segment={segment}); lower min_sentences or change the segmentation")
    return RowsDataset(rows, f"{path} ({split})")


def sentence_lists(dataset: Any, column: str = "sentences", what: str = "documents") -> list[list[str]]:
    """The sentence list of every row of a row dataset (``documents`` rows), validated: a list of non-empty
    strings per row; errors name ``what`` and the row."""
    out: list[list[str]] = []
    for index in range(len(dataset)):
        row = dataset[index]
        if column not in row:
            raise DataError(f"{what}: row {index} has no column '{column}'; columns: {', '.join(map(str, row))}")
        sentences = row[column]
        if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
            raise DataError(f"{what}: row {index}, column '{column}' must be a list of sentences, "
                            f"got {type(sentences).__name__}")
        check_nonempty_strings(sentences,
                               lambda position: f"{what}: row {index}, column '{column}': sentence {position}")
        out.append(list(sentences))
    return out
