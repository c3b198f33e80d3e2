"""Semantic textual similarity: correlation between embedding cosine similarity and human scores.

The protocol of SentenceBERT (Reimers & Gurevych 2019) and SimCSE (Gao et al. 2021): embed both sentences
of each pair, take the cosine similarity, report the Spearman rank correlation with the gold scores
(primary) and the Pearson correlation. ``load_sts_csv`` reads the STS Benchmark files (Cer et al. 2017).
"""

from __future__ import annotations

import math
import warnings
from os import PathLike
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from scipy import stats

from ..data import build_dataset
from .base import Encoder, Evaluator, check_inputs, encode_unique_texts

STS_MIN_FIELDS = 7  # genre, file, year, id, score, sentence1, sentence2 (some rows carry extra columns)


def load_sts_csv(path: str | PathLike[str]) -> tuple[list[str], list[str], list[float]]:
    """Read an STS Benchmark file (``sts-train.csv``, ``sts-dev.csv``, ``sts-test.csv``).

    Each line is tab-separated: fields 0-4 are genre, file, year, id and the score (0-5), fields 5-6 the two
    sentences; further trailing fields (sources) are ignored. Lines are split on ``'\\t'`` only, without any
    CSV quoting (the sentences contain quote characters). Blank lines are skipped.

    Returns ``(sentences1, sentences2, scores)``, three lists of equal length.

    Raises ``FileNotFoundError`` naming ``path`` when it does not exist; ``ValueError(f"{path}:{line}: ...")``
    (1-based line) for a row with fewer than 7 fields, a non-numeric or non-finite score, or an empty
    sentence; ``ValueError`` naming ``path`` when it is not UTF-8 or holds no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"STS file not found: {path}" if not path.exists() else f"STS path is not a file: {path}")
    try:
        # newline="" keeps a stray '\r' inside a sentence; lines are split on '\n' only.
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid UTF-8 ({e})") from e
    sentences1: list[str] = []
    sentences2: list[str] = []
    scores: list[float] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < STS_MIN_FIELDS:
            raise ValueError(
                f"{path}:{line_number}: expected at least {STS_MIN_FIELDS} tab-separated fields "
                f"(genre, file, year, id, score, sentence1, sentence2), found {len(fields)}"
            )
        try:
            score = float(fields[4])
        except ValueError:
            raise ValueError(f"{path}:{line_number}: score (field 5) is not a number: {fields[4]!r}") from None
        if not math.isfinite(score):
            raise ValueError(f"{path}:{line_number}: score (field 5) is not finite: {fields[4]!r}")
        for index in (5, 6):
            if not fields[index].strip():
                raise ValueError(f"{path}:{line_number}: sentence{index - 4} (field {index + 1}) is empty")
        sentences1.append(fields[5])
        sentences2.append(fields[6])
        scores.append(score)
    if not scores:
        raise ValueError(f"{path}: no STS rows found (the file is empty)")
    return sentences1, sentences2, scores


def pair_cosine(model: Encoder, sentences1: Sequence[str], sentences2: Sequence[str], batch_size: int = 128) -> torch.Tensor:
    """Cosine similarity (P,) of each pair ``(sentences1[i], sentences2[i])``; each distinct sentence is
    encoded once."""
    embeddings, row_of = encode_unique_texts(model, [*sentences1, *sentences2], batch_size, "sts sentences")
    a = embeddings[torch.tensor([row_of[s] for s in sentences1], dtype=torch.long)]
    b = embeddings[torch.tensor([row_of[s] for s in sentences2], dtype=torch.long)]
    return F.cosine_similarity(a, b, dim=1)


def _correlation(fn: object, x: Sequence[float], y: Sequence[float]) -> float:
    """scipy correlation statistic as a float; nan (without a warning) for constant or non-finite input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConstantInputWarning: the result is nan, which is reported as such
        return float(fn(x, y)[0])  # type: ignore[operator]


class STSEvaluator(Evaluator):
    """Spearman (primary) and Pearson correlation between cosine similarity of embeddings and gold scores.

    ``sentences1[i]``, ``sentences2[i]`` and ``scores[i]`` describe pair ``i``. Returns
    ``{f"{name}/spearman": ..., f"{name}/pearson": ...}`` (higher is better).
    """

    primary = "spearman"
    higher_is_better = True

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``sts``: an STS Benchmark file (``path``, ``load_sts_csv``)."""

        path: str
        prefix: str = "sts"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:
        """The sentence pairs and scores of evaluator ``sts``'s file."""
        s1, s2, scores = load_sts_csv(section.path)
        return dict(sentences1=s1, sentences2=s2, scores=scores)

    def __init__(self, sentences1: list[str], sentences2: list[str], scores: list[float], name: str = "sts",
                 batch_size: int = 128) -> None:
        super().__init__(name, batch_size)
        self.sentences1 = list(check_inputs(sentences1, f"{type(self).__name__} sentences1", texts_only=True))
        self.sentences2 = list(check_inputs(sentences2, f"{type(self).__name__} sentences2", texts_only=True))
        self.scores = [float(s) for s in scores]
        if not len(self.sentences1) == len(self.sentences2) == len(self.scores):
            raise ValueError(f"{type(self).__name__}: sentences1, sentences2 and scores must have the same length, "
                             f"got {len(self.sentences1)}, {len(self.sentences2)} and {len(self.scores)}")
        if len(self.scores) < 2:
            raise ValueError(f"{type(self).__name__}: a correlation needs at least 2 pairs, got {len(self.scores)}")
        if not all(math.isfinite(s) for s in self.scores):
            raise ValueError(f"{type(self).__name__}: scores must be finite numbers")

    def __call__(self, model: Encoder) -> dict[str, float]:
        cosine = pair_cosine(model, self.sentences1, self.sentences2, self.batch_size).tolist()
        return {
            self.key("spearman"): _correlation(stats.spearmanr, cosine, self.scores),
            self.key("pearson"): _correlation(stats.pearsonr, cosine, self.scores),
        }


class HubSTSEvaluator(STSEvaluator):
    """``STSEvaluator`` on a Hub dataset with sentence-pair and score columns (default: STS-B validation)."""

    @dataclass(kw_only=True)
    class Section:
        """Config keys of evaluator ``sts_hf``: the Hub dataset ``path`` / ``split`` and its column names."""

        path: str = "sentence-transformers/stsb"
        split: str = "validation"
        prefix: str = "sts"
        sentence1: str = "sentence1"
        sentence2: str = "sentence2"
        score: str = "score"
        batch_size: int = 128

    @classmethod
    def config_inputs(cls, section: Section) -> dict[str, Any]:  # type: ignore[override]
        """The sentence pairs and scores of evaluator ``sts_hf``'s Hub dataset."""
        s = section
        dataset = build_dataset({"name": "hf", "path": s.path, "split": s.split})
        missing = [c for c in (s.sentence1, s.sentence2, s.score) if c not in dataset.column_names]
        if missing:
            raise KeyError(f"sts_hf '{s.path}': column(s) {missing} not found; columns: "
                           f"{', '.join(dataset.column_names)}")
        return dict(sentences1=list(dataset[s.sentence1]), sentences2=list(dataset[s.sentence2]),
                    scores=[float(x) for x in dataset[s.score]])
