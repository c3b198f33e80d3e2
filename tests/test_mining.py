"""Hard-negative mining (BM25 and dense, with false-negative filters) and the no-duplicates batch sampler."""

from __future__ import annotations

import random
import zlib
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import shared
from mmcontrast.data.beir_files import BeirWarning, load_beir
from mmcontrast.data.bm25 import BM25Index
from mmcontrast.data.hard_negatives import excluded_rows, mine_bm25_negatives, negative_rows
from mmcontrast.data.no_duplicates import NoDuplicatesBatchSampler
from mmcontrast.retrieval import mine_dense_negatives


class HashingEncoder:
    """Deterministic bag-of-words embeddings (hashed word counts, 128 dims); records the roles it is asked for."""

    def __init__(self) -> None:
        self.roles: list[str | None] = []

    def encode(self, texts: list[str], batch_size: int = 128, role: str | None = None) -> torch.Tensor:
        self.roles.append(role)
        out = torch.zeros(len(texts), 128)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % 128] += 1.0
        return out


@pytest.fixture(scope="module")
def cranfield():
    """Cranfield passages, queries and (query row, gold passage row) pairs of its dev judgements."""
    with pytest.warns(BeirWarning):
        data = load_beir(shared("retrieval_cranfield", "beir"), "dev", skip_empty=True)
    passages = data.passages()
    row_of_passage = {pid: i for i, pid in enumerate(data.passage_ids)}
    pairs = [(q, row_of_passage[pid]) for q, qid in enumerate(data.query_ids)
             for pid, grade in data.qrels.get(qid, {}).items() if grade > 0]
    return data.queries, passages, pairs


def gold_of(pairs: list[tuple[int, int]]) -> dict[int, set[int]]:
    gold: dict[int, set[int]] = {}
    for q, p in pairs:
        gold.setdefault(q, set()).add(p)
    return gold


# ----------------------------------------------------------------------------------------------- BM25 mining


def test_bm25_negatives_never_include_a_gold_passage(cranfield) -> None:
    queries, passages, pairs = cranfield
    index = BM25Index(passages)
    negatives = mine_bm25_negatives(queries, passages, pairs, num_negatives=5, index=index)
    gold = gold_of(pairs)
    assert len(negatives) == len(pairs) == 794
    for (q, p), rows in zip(pairs, negatives):
        assert p not in rows and not gold[q] & set(rows)  # neither this pair's gold nor any gold of the query
        assert len(rows) == 5 and len(set(rows)) == 5
    # they are the top-5 BM25 passages once the gold passages are taken out
    for q in list(gold)[:20]:
        scores = index.scores(queries[q])
        ranked = [int(i) for i in np.lexsort((np.arange(len(scores)), -scores)) if int(i) not in gold[q]]
        first = next(i for i, (pq, _) in enumerate(pairs) if pq == q)
        assert negatives[first] == ranked[:5]
        # and the gold passages do rank among the BM25 top for some queries: exclusion is doing work
    assert any(set(np.argsort(-index.scores(queries[q]))[:5].tolist()) & gold[q] for q in gold)


def test_bm25_negatives_exclude_copies_of_the_gold_text() -> None:
    passages = ["wing flutter at supersonic speed", "boundary layer transition on a flat plate",
                "wing flutter at supersonic speed", "flutter of a swept wing", "heat transfer in a nozzle"]
    queries = ["supersonic wing flutter"]
    negatives = mine_bm25_negatives(queries, passages, [(0, 0)], num_negatives=3)
    assert negatives == [[3]]  # row 2 is a copy of the gold; rows without a shared term do not qualify
    assert excluded_rows([(0, 0)], passages) == {0: {0, 2}}
    with pytest.raises(IndexError, match="out of range"):
        mine_bm25_negatives(queries, passages, [(0, 9)], num_negatives=1)


# ----------------------------------------------------------------------------------------------- dense mining


def test_dense_negatives_exclude_gold_and_respect_margins(cranfield) -> None:
    queries, passages, pairs = cranfield
    pairs = pairs[:300]
    model = HashingEncoder()
    margin, max_score = 0.05, 0.6
    negatives = mine_dense_negatives(model, queries, passages, pairs, num_negatives=4, margin=margin,
                                     max_score=max_score, depth=50)
    assert model.roles == ["query", "passage"]
    q_emb = torch.nn.functional.normalize(model.encode(list(queries)), dim=1)
    p_emb = torch.nn.functional.normalize(model.encode(list(passages)), dim=1)
    gold = gold_of(pairs)
    unfiltered = mine_dense_negatives(model, queries, passages, pairs, num_negatives=4, margin=None, depth=50)
    dropped = 0
    for (q, p), rows, loose in zip(pairs, negatives, unfiltered):
        assert not gold[q] & set(rows) and not gold[q] & set(loose)
        gold_score = float(q_emb[q] @ p_emb[p])
        scores = [float(q_emb[q] @ p_emb[r]) for r in rows]
        assert all(s < gold_score - margin and s <= max_score for s in scores)
        assert scores == sorted(scores, reverse=True)
        # the filtered list is the unfiltered candidate order with the false-negative suspects taken out
        expected = [r for r in loose if float(q_emb[q] @ p_emb[r]) < gold_score - margin
                    and float(q_emb[q] @ p_emb[r]) <= max_score]
        assert rows[: len(expected)] == expected
        dropped += len(loose) > len(expected)
    assert dropped > 0  # the filters removed candidates on this data
    with pytest.raises(ValueError, match="margin must be >= 0"):
        mine_dense_negatives(model, queries, passages, pairs, 2, margin=-0.1)


def test_negative_rows_layout_and_short_pairs_reported() -> None:
    queries, passages = ["q0", "q1"], ["p0", "p1", "p2", "p3"]
    pairs = [(0, 0), (1, 1)]
    with pytest.warns(UserWarning, match="1 of 2 pair"):
        rows = negative_rows(queries, passages, pairs, [[2, 3], [0]], num_negatives=2)
    assert rows == [{"anchor": "q0", "positive": "p0", "negative_1": "p2", "negative_2": "p3"}]


# ----------------------------------------------------------------------------------------------- sampler


def duplicated_rows(n: int = 300, seed: int = 0) -> list[dict[str, object]]:
    """Rows whose queries and positives repeat a lot (20 distinct queries, 50 distinct positives)."""
    rng = random.Random(seed)
    return [{"query": f"q{rng.randrange(20)}", "positive": f"p{rng.randrange(50)}",
             "negatives": [f"p{rng.randrange(50)}", f"n{rng.randrange(500)}"], "label": i} for i in range(n)]


def batch_texts(rows: list[dict[str, object]], batch: list[int], columns: list[str]) -> list[str]:
    texts: list[str] = []
    for i in batch:
        row_texts: set[str] = set()
        for c in columns:
            value = rows[i][c]
            row_texts.update(value if isinstance(value, list) else [value])  # type: ignore[arg-type]
        texts.extend(row_texts)
    return texts


@pytest.mark.parametrize("columns", [["query", "positive"], ["query", "positive", "negatives"]])
def test_no_duplicate_text_in_any_batch_and_each_row_once(columns: list[str]) -> None:
    rows = duplicated_rows()
    sampler = NoDuplicatesBatchSampler(rows, batch_size=8, columns=columns, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for batch in batches:
            counts = Counter(batch_texts(rows, batch, columns))
            assert max(counts.values()) == 1, counts.most_common(3)
        used = [i for b in batches for i in b]
        assert sorted(used) == list(range(len(rows)))  # drop_last=False: every row exactly once per epoch
        assert all(len(b) == 8 for b in batches[: len(batches) // 2])  # the early batches are full


def test_drop_last_yields_full_batches_and_reports_left_over_rows() -> None:
    rows = duplicated_rows()
    sampler = NoDuplicatesBatchSampler(rows, batch_size=16, columns=["query", "positive"], drop_last=True, seed=1)
    batches = list(sampler)
    assert batches and all(len(b) == 16 for b in batches) and len(batches) == len(sampler)
    used = [i for b in batches for i in b]
    assert len(set(used)) == len(used)
    assert sorted(used + sampler.left_over) == list(range(len(rows)))
    assert 0 < len(sampler.left_over) < len(rows) // 2  # 20 distinct queries: batches of 16 run short at the end
    sampler.set_epoch(1)
    assert sorted([i for b in sampler for i in b] + sampler.left_over) == list(range(len(rows)))


def test_batches_are_deterministic_per_epoch_and_change_between_epochs() -> None:
    rows = duplicated_rows()
    a = NoDuplicatesBatchSampler(rows, batch_size=8, columns=["query"], seed=7)
    b = NoDuplicatesBatchSampler(rows, batch_size=8, columns=["query"], seed=7)
    b.set_epoch(1)
    first_b1 = list(b)
    b.set_epoch(0)
    assert list(a) == list(b)  # same seed and epoch, regardless of history
    a.set_epoch(1)
    assert list(a) == first_b1 and list(a) != list(NoDuplicatesBatchSampler(rows, 8, ["query"], seed=7))
    assert list(NoDuplicatesBatchSampler(rows, 8, ["query"], seed=8)) != list(b)
    unshuffled = list(NoDuplicatesBatchSampler([{"t": f"x{i}"} for i in range(10)], 4, shuffle=False))
    assert unshuffled == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_sampler_on_a_datasets_dataset_in_a_dataloader() -> None:
    from datasets import Dataset

    rows = duplicated_rows(120)
    dataset = Dataset.from_list(rows)
    sampler = NoDuplicatesBatchSampler(dataset, batch_size=6, seed=0)  # default columns: the text columns
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=lambda batch: batch)
    seen = []
    for batch in loader:
        texts = [t for row in batch for t in {row["query"], row["positive"], *row["negatives"]}]
        assert len(texts) == len(set(texts))
        seen.extend(row["label"] for row in batch)
    assert sorted(seen) == list(range(120))


def test_sampler_allows_repeats_inside_one_row_and_rejects_bad_columns() -> None:
    rows = [{"anchor": f"s{i}", "positive": f"s{i}"} for i in range(10)]  # SimCSE-style: a row is its own pair
    assert [len(b) for b in NoDuplicatesBatchSampler(rows, 5)] == [5, 5]
    with pytest.raises(KeyError, match=r"column\(s\) \['missing'\] not found"):
        NoDuplicatesBatchSampler(rows, 5, columns=["missing"])
    with pytest.raises(TypeError, match="row 0, column 'n'"):
        NoDuplicatesBatchSampler([{"n": 3}], 2, columns=["n"])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        NoDuplicatesBatchSampler(rows, 0)
