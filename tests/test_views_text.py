"""NLP pretext tasks on documents: the ``documents`` dataset (segmentation, filters, held-out split, errors),
the views ``next_sentence``, ``sentence_permutation``, ``inverse_cloze``, ``title_body`` and ``query_passage``
(what each puts in which role, seeding, errors naming the row), the ``next_sentence``, ``order_recovery`` and
``inverse_cloze`` evaluators on hand-made encoders, the NLP configs, and a two-step run of each view through
``train`` with a tiny BERT."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import yaml

from conftest import MINILM, ROOT, TINY_BERT, shared
from helpers import write_config
from mmcontrast.config import load_config
from mmcontrast.data import DataError, build_dataset, collate_rows
from mmcontrast.data.documents import is_title, sentence_lists
from mmcontrast.evaluation import EVALUATORS
from mmcontrast.evaluation.next_sentence import NextSentenceEvaluator, inverse_cloze_pairs, next_sentence_pairs
from mmcontrast.evaluation.order_recovery import OrderRecoveryEvaluator, passages_of
from mmcontrast.training.build import build_view
from mmcontrast.views import VIEWS
from mmcontrast.views.permutation import delete_words, sample_permutations

SENTENCE = re.compile(r"^Doc (\d+) sentence (\d+)\.$")


def corpus(num_docs: int = 10, lengths: list[int] | None = None) -> str:
    """Title line then sentences 'Doc d sentence j.' (parseable positions) for each document."""
    lengths = lengths or [3 + (d % 5) for d in range(num_docs)]
    lines = []
    for d, n in enumerate(lengths):
        lines.append(f"Article number {d}")
        lines.extend(f"Doc {d} sentence {j}." for j in range(n))
    return "\n".join(lines) + "\n"


def where(sentence: str) -> tuple[int, int]:
    """(document, position) of a synthetic sentence."""
    match = SENTENCE.match(sentence)
    assert match, sentence
    return int(match.group(1)), int(match.group(2))


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(corpus())
    return path


def batch_of(path: Path, **params) -> dict:
    dataset = build_dataset({"name": "documents", "path": str(path), **params})
    rows = [dict(dataset[i], index=i) for i in range(len(dataset))]
    return collate_rows(rows)


def make(name: str, **kwargs):
    return VIEWS.get(name)(**kwargs)


# ---------------------------------------------------------------------------------------- documents dataset
def test_title_rule():
    assert is_title("YMCA in South Australia")
    assert not is_title("Report 1851.")
    assert not is_title("He said \u201cyes\u201d")
    assert not is_title("one two three four five six seven eight nine", max_words=8)
    assert is_title("one two three four five six seven eight nine", max_words=9)


def test_documents_are_segmented_at_title_lines(corpus_file):
    ds = build_dataset({"name": "documents", "path": str(corpus_file)})
    assert len(ds) == 10 and ds.column_names == ["document", "title", "sentences", "text", "line"]
    line = 1
    for d in range(10):
        row = ds[d]
        n = 3 + d % 5
        assert row["document"] == d and row["title"] == f"Article number {d}" and row["line"] == line
        assert row["sentences"] == [f"Doc {d} sentence {j}." for j in range(n)]
        assert row["text"] == " ".join(row["sentences"])
        line += n + 1


def test_blank_and_window_segmentation(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("a one.\nb two.\n\n\nc three.\nd four.\ne five.\n\nf six.\n")
    rows = build_dataset({"name": "documents", "path": str(path), "segment": "blank", "min_sentences": 1}).rows
    assert [r["sentences"] for r in rows] == [["a one.", "b two."], ["c three.", "d four.", "e five."], ["f six."]]
    assert [r["title"] for r in rows] == ["", "", ""]
    rows = build_dataset({"name": "documents", "path": str(path), "segment": "window", "window_size": 4,
                          "min_sentences": 1}).rows
    assert [len(r["sentences"]) for r in rows] == [4, 2]
    assert rows[1]["line"] == 7


def test_min_max_sentences_and_require_title(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("stray first line.\n" + corpus(lengths=[1, 2, 7]))
    rows = build_dataset({"name": "documents", "path": str(path), "min_sentences": 2}).rows
    assert [r["document"] for r in rows] == [2, 3]  # document 0: the untitled stray line; 1: one sentence
    rows = build_dataset({"name": "documents", "path": str(path), "min_sentences": 1}).rows
    assert rows[0]["title"] == "" and rows[0]["sentences"] == ["stray first line."]
    rows = build_dataset({"name": "documents", "path": str(path), "min_sentences": 1, "require_title": True}).rows
    assert all(r["title"] for r in rows)
    rows = build_dataset({"name": "documents", "path": str(path), "min_sentences": 2, "max_sentences": 3}).rows
    assert [(r["document"], len(r["sentences"])) for r in rows] == [(2, 2), (3, 3), (3, 3)]  # 7 = 3+3+1 (dropped)
    assert rows[2]["sentences"][0] == "Doc 2 sentence 3."


def test_heldout_split_is_the_last_documents_and_disjoint(corpus_file):
    train = build_dataset({"name": "documents", "path": str(corpus_file), "split": "train", "holdout": 0.2}).rows
    held = build_dataset({"name": "documents", "path": str(corpus_file), "split": "heldout", "holdout": 0.2}).rows
    assert [r["document"] for r in train] == list(range(8)) and [r["document"] for r in held] == [8, 9]


def test_wikipedia_documents():
    path = shared("wiki", "wiki1m_for_simcse.first11914.txt")
    everything = build_dataset({"name": "documents", "path": str(path)})
    assert everything[0]["title"] == "YMCA in South Australia" and everything[0]["line"] == 1
    assert everything[0]["sentences"][0].startswith("South Australia (SA)")
    assert all(len(r["sentences"]) >= 2 for r in everything.rows)
    train = build_dataset({"name": "documents", "path": str(path), "split": "train"}).rows
    held = build_dataset({"name": "documents", "path": str(path), "split": "heldout"}).rows
    assert max(r["document"] for r in train) < min(r["document"] for r in held)
    assert len(train) + len(held) == len(everything) and len(held) > 100
    held_sentences = {s for r in held for s in r["sentences"]}
    assert len(held_sentences & {s for r in train for s in r["sentences"]}) < 0.01 * len(held_sentences)


@pytest.mark.parametrize("text,message", [
    ("", "no sentences"),
    ("\n  \n", "no sentences"),
    ("Only A Title\nAnother Title\n", "no sentences"),
    ("Title\nOne sentence.\nOther title\nTwo.\n", "no document left"),
])
def test_documents_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        build_dataset({"name": "documents", "path": str(path)})
    assert str(path) in str(err.value)


def test_documents_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Title\nfine.\nbroken \xff here.\n")
    with pytest.raises(DataError, match=r"bad.txt:3: not valid UTF-8"):
        build_dataset({"name": "documents", "path": str(path)})


def test_documents_bad_arguments(corpus_file, tmp_path):
    with pytest.raises(FileNotFoundError):
        build_dataset({"name": "documents", "path": str(tmp_path / "missing.txt")})
    for bad in ({"segment": "paragraph"}, {"split": "test"}, {"holdout": 1.0}, {"min_sentences": 0},
                {"min_sentences": 3, "max_sentences": 2}):
        with pytest.raises(ValueError):
            build_dataset({"name": "documents", "path": str(corpus_file), **bad})


def test_sentence_lists_validates_rows():
    assert sentence_lists([{"sentences": ["a.", "b."]}]) == [["a.", "b."]]
    with pytest.raises(DataError, match="row 1, column 'sentences' must be a list"):
        sentence_lists([{"sentences": ["a."]}, {"sentences": "a. b."}])
    with pytest.raises(DataError, match="row 0.*sentence 1 is empty"):
        sentence_lists([{"sentences": ["a.", " "]}])


# ---------------------------------------------------------------------------------------- next_sentence
def test_next_sentence_positive_is_the_next_sentence_of_the_same_document(corpus_file):
    batch = batch_of(corpus_file)
    view = make("next_sentence", seed=0)
    for _ in range(5):
        out = view(batch)
        assert out.negatives is None and torch.equal(out.indices, batch["index"])
        for i, (q, p) in enumerate(zip(out.query, out.positive)):
            (dq, jq), (dp, jp) = where(q), where(p)
            assert dq == dp == batch["document"][i] and jp == jq + 1


@pytest.mark.parametrize("window,previous", [(2, False), (2, True), (1, True)])
def test_next_sentence_window_and_previous(corpus_file, window, previous):
    batch = batch_of(corpus_file)
    view = make("next_sentence", window=window, include_previous=previous, seed=1)
    offsets = set()
    for _ in range(30):
        out = view(batch)
        for q, p in zip(out.query, out.positive):
            (dq, jq), (dp, jp) = where(q), where(p)
            assert dq == dp
            offsets.add(jp - jq)
    allowed = set(range(1, window + 1)) | ({-o for o in range(1, window + 1)} if previous else set())
    assert offsets == allowed


@pytest.mark.parametrize("window,k", [(1, 1), (1, 3), (2, 2)])
def test_next_sentence_hard_negatives_are_far_sentences_of_the_same_document(corpus_file, window, k):
    batch = batch_of(corpus_file, min_sentences=window + 2)
    view = make("next_sentence", window=window, include_previous=True, num_hard_negatives=k, seed=2)
    for _ in range(5):
        out = view(batch)
        assert len(out.negatives) == k and all(len(n) == len(out.query) for n in out.negatives)
        for i, q in enumerate(out.query):
            d, j = where(q)
            mine = [where(out.negatives[kk][i]) for kk in range(k)]
            assert all(dn == d and abs(jn - j) > window for dn, jn in mine)
            far = sum(abs(p - j) > window for p in range(len(batch["sentences"][i])))
            assert len(set(mine)) == min(k, far)  # without replacement while the document has enough
    with pytest.raises(DataError, match=r"has 3 sentence\(s\), this view needs at least 4"):
        make("next_sentence", window=2, num_hard_negatives=1)(batch_of(corpus_file))  # 3..7 sentences
    with pytest.raises(ValueError, match="num_hard_negatives"):
        make("next_sentence", num_hard_negatives=-1)


def test_next_sentence_on_two_sentence_documents_with_previous(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(corpus(lengths=[2] * 8))
    out = make("next_sentence", include_previous=True, seed=0)(batch_of(path))
    assert all(abs(where(q)[1] - where(p)[1]) == 1 for q, p in zip(out.query, out.positive))


# ---------------------------------------------------------------------------------------- sentence_permutation
@pytest.mark.parametrize("n,k", [(3, 3), (3, 5), (4, 6)])
def test_permutations_are_non_identity_reorderings_of_the_same_passage(corpus_file, n, k):
    batch = batch_of(corpus_file, min_sentences=4)
    view = make("sentence_permutation", passage_sentences=n, num_permutations=k, seed=3)
    for _ in range(5):
        out = view(batch)
        assert out.query == out.positive  # dropout twins
        assert len(out.negatives) == k and all(len(neg) == len(out.query) for neg in out.negatives)
        for i, positive in enumerate(out.positive):
            sentences = re.findall(r"Doc \d+ sentence \d+\.", positive)
            docs, positions = zip(*map(where, sentences))
            assert set(docs) == {int(batch["document"][i])} and len(sentences) == n
            assert list(positions) == list(range(positions[0], positions[0] + n))  # consecutive, in order
            shuffles = [out.negatives[kk][i] for kk in range(k)]
            for shuffled in shuffles:
                parts = re.findall(r"Doc \d+ sentence \d+\.", shuffled)
                assert sorted(parts) == sorted(sentences) and parts != sentences and shuffled != positive
            assert len(set(shuffles)) == k  # distinct while distinct orders exist


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(word in it for word in small)


def test_permutation_delete_words_anchor_keeps_every_sentence_in_order(corpus_file):
    batch = batch_of(corpus_file, min_sentences=4)
    view = make("sentence_permutation", passage_sentences=4, num_permutations=2, anchor="delete_words",
                delete_probability=0.3, seed=0)
    kept = total = 0
    for query, positive in zip(*(lambda o: (o.query, o.positive))(view(batch))):
        assert query != positive and is_subsequence(query.split(), positive.split())
        assert query.count(".") == 4 or len(query.split()) < len(positive.split())  # no sentence vanished whole
        kept, total = kept + len(query.split()), total + len(positive.split())
    assert 0.5 < kept / total < 0.9
    out = make("sentence_permutation", anchor="delete_words", delete_probability=0.0)(batch)
    assert out.query == out.positive


def test_delete_words():
    g = torch.Generator().manual_seed(0)
    sentences = ["one two three four five six.", "a b c d e f g h.", "single."]
    for _ in range(20):
        out = delete_words(sentences, 0.5, g)
        assert len(out) == 3 and all(o.split() and is_subsequence(o.split(), s.split()) for o, s in zip(out, sentences))
        assert out[2] == "single."
    assert delete_words(sentences, 0.0, g) == sentences
    assert all(len(o.split()) == 1 for o in delete_words(sentences, 0.999999, g))


def test_sample_permutations_with_repeated_sentences():
    g = torch.Generator().manual_seed(0)
    orders = sample_permutations(["a", "a", "b"], 5, g)  # only 2 texts differ from the original
    texts = {tuple(["a", "a", "b"][i] for i in order) for order in orders}
    assert len(orders) == 5 and texts == {("a", "b", "a"), ("b", "a", "a")}
    assert sample_permutations(["a", "a", "a"], 1, g) is None
    assert all(sorted(o) == list(range(6)) and o != list(range(6)) for o in sample_permutations(list("abcdef"), 20, g))


def test_permutation_errors(corpus_file, tmp_path):
    with pytest.raises(ValueError, match="num_permutations must be in 1..5"):
        make("sentence_permutation", passage_sentences=3, num_permutations=6)
    with pytest.raises(ValueError, match="passage_sentences must be >= 2"):
        make("sentence_permutation", passage_sentences=1)
    with pytest.raises(ValueError, match="delete_probability must be in"):
        make("sentence_permutation", anchor="delete_words", delete_probability=1.0)
    with pytest.raises(ValueError, match="anchor must be one of"):
        make("sentence_permutation", anchor="shuffle")
    batch = batch_of(corpus_file)  # documents of 3..7 sentences
    with pytest.raises(DataError, match=r"row 0, document 0, line 1 has 3 sentence\(s\).*min_sentences: 4"):
        make("sentence_permutation", passage_sentences=4)(batch)
    path = tmp_path / "same.txt"
    path.write_text("Title\nSame.\nSame.\nSame.\n")
    with pytest.raises(DataError, match="repeats one sentence"):
        make("sentence_permutation", passage_sentences=3)(batch_of(path, min_sentences=3))


# ---------------------------------------------------------------------------------------- inverse_cloze
def test_inverse_cloze_positive_is_the_context_without_the_query(corpus_file):
    batch = batch_of(corpus_file)
    view = make("inverse_cloze", window=2, seed=0)
    for _ in range(5):
        out = view(batch)
        for i, (q, p) in enumerate(zip(out.query, out.positive)):
            d, j = where(q)
            n = len(batch["sentences"][i])
            context = re.findall(r"Doc \d+ sentence \d+\.", p)
            assert q not in context and d == batch["document"][i]
            expected = [f"Doc {d} sentence {k}." for k in range(max(0, j - 2), min(n, j + 3)) if k != j]
            assert context == expected


def test_inverse_cloze_keep_probability(corpus_file):
    batch = batch_of(corpus_file)
    out = make("inverse_cloze", keep_probability=1.0, window=1, seed=0)(batch)
    assert all(q in p for q, p in zip(out.query, out.positive))
    view = make("inverse_cloze", keep_probability=0.5, seed=0)
    kept = [q in p for _ in range(10) for q, p in zip(*(lambda o: (o.query, o.positive))(view(batch)))]
    assert 0.3 < sum(kept) / len(kept) < 0.7


def test_inverse_cloze_errors(tmp_path):
    with pytest.raises(ValueError, match="keep_probability"):
        make("inverse_cloze", keep_probability=1.5)
    with pytest.raises(ValueError, match="window"):
        make("inverse_cloze", window=0)
    path = tmp_path / "c.txt"
    path.write_text(corpus(lengths=[2, 1, 3]))
    with pytest.raises(DataError, match=r"row 1, document 1.* has 1 sentence\(s\).*at least 2"):
        make("inverse_cloze")(batch_of(path, min_sentences=1))
    with pytest.raises(DataError, match="column 'sentences' must be a list of sentences"):
        make("inverse_cloze")({"sentences": ["a. b.", "c. d."]})
    with pytest.raises(DataError, match="column 'sentences' not found; the rows have columns: text"):
        make("inverse_cloze")({"text": ["a. b."]})


# ---------------------------------------------------------------------------------------- seeding
VIEW_PARAMS = [
    ("next_sentence", {"window": 2, "include_previous": True}),
    ("next_sentence", {"num_hard_negatives": 2}),
    ("sentence_permutation", {"passage_sentences": 3, "num_permutations": 2}),
    ("sentence_permutation", {"anchor": "delete_words", "max_chars": 60}),
    ("inverse_cloze", {"keep_probability": 0.3}),
]


@pytest.mark.parametrize("name,params", VIEW_PARAMS)
def test_same_seed_same_views_other_seed_other_views(corpus_file, name, params):
    batch = batch_of(corpus_file)

    def draws(seed: int) -> list:
        view = make(name, seed=seed, **params)
        return [(o.query, o.positive, o.negatives) for o in (view(batch), view(batch))]

    first = draws(7)
    assert first == draws(7)
    assert first[0] != first[1]  # the generator moves on between batches
    assert first != draws(8)


@pytest.mark.parametrize("name,params", VIEW_PARAMS)
def test_trainer_injects_the_seed_and_the_generator_resumes(corpus_file, name, params):
    cfg = load_config(None, [f"view={yaml.safe_dump({'name': name, **params}, default_flow_style=True).strip()}",
                             f"data.train={{name: documents, path: {corpus_file}}}"])
    batch = batch_of(corpus_file)
    view = build_view(cfg, seed=5, device=torch.device("cpu"))
    state = view.generator.get_state()
    assert view(batch).query == make(name, seed=5, **params)(batch).query
    view.generator.set_state(state)  # what a checkpoint restores
    again = view(batch)
    assert again.query == make(name, seed=5, **params)(batch).query


# ---------------------------------------------------------------------------------------- pair views
def test_title_body_pairs(corpus_file):
    batch = batch_of(corpus_file)
    out = make("title_body")(batch)
    assert out.query == [f"Article number {d}" for d in range(10)] and out.positive == batch["text"]
    out = make("title_body", title_column="title", body_column="sentences")
    with pytest.raises(DataError, match="column 'sentences' is empty or not a string"):
        out(batch)
    with pytest.raises(DataError, match=r"view 'title_body': row 1: column 'title' is empty"):
        make("title_body")({"title": ["a", ""], "text": ["x", "y"], "index": torch.tensor([0, 1])})


def dpr_batch(negatives: list) -> dict:
    b = len(negatives)
    return {"query": [f"q{i}" for i in range(b)], "positive": [f"p{i}" for i in range(b)],
            "negatives": negatives, "index": torch.arange(b) + 100}


def test_query_passage_hard_negative_layout():
    batch = dpr_batch([[f"n{i}-{j}" for j in range(5)] for i in range(4)])
    out = make("query_passage", negatives_column="negatives", num_negatives=3, seed=0)(batch)
    assert out.query == batch["query"] and out.positive == batch["positive"] and len(out.negatives) == 3
    for i in range(4):
        mine = [out.negatives[k][i] for k in range(3)]
        assert len(set(mine)) == 3 and all(m.startswith(f"n{i}-") for m in mine)  # anchor i's own negatives
    out = make("query_passage", negatives_column="negatives", num_negatives=2, shuffle_negatives=False)(batch)
    assert out.negatives == [[f"n{i}-0" for i in range(4)], [f"n{i}-1" for i in range(4)]]
    assert make("query_passage")(batch).negatives is None
    # the n-tuple layout (one column per hard negative), as data.hard_negatives.negative_rows writes it
    tuples = {"anchor": batch["query"], "positive": batch["positive"], "negative_1": ["a0", "a1", "a2", "a3"],
              "negative_2": ["b0", "b1", "b2", "b3"]}
    out = make("query_passage", query_column="anchor", negatives_column=["negative_1", "negative_2"],
               num_negatives=2, shuffle_negatives=False)(tuples)
    assert out.query == batch["query"] and out.negatives == [tuples["negative_1"], tuples["negative_2"]]
    with pytest.raises(DataError, match="batch item 0 has 2 hard negative.*'negative_1, negative_2', 3 are needed"):
        make("query_passage", query_column="anchor", negatives_column=["negative_1", "negative_2"],
             num_negatives=3)(tuples)


def test_query_passage_short_lists():
    batch = dpr_batch([["a", "b", "c"], ["d"], ["e", "f"]])
    with pytest.raises(DataError, match=r"row 101 has 1 hard negative\(s\).*2 are needed"):
        make("query_passage", negatives_column="negatives", num_negatives=2)(batch)
    out = make("query_passage", negatives_column="negatives", num_negatives=2, with_replacement=True)(batch)
    assert [out.negatives[k][1] for k in range(2)] == ["d", "d"]
    assert {out.negatives[0][0], out.negatives[1][0]} <= {"a", "b", "c"}
    with pytest.raises(DataError, match=r"row 102 has 0 hard negative"):
        make("query_passage", negatives_column="negatives", with_replacement=True)(dpr_batch([["a"], ["b"], []]))


@pytest.mark.parametrize("negatives,message", [
    ([["a"], "b"], "row 101: column 'negatives' must be a list of passages"),
    ([["a"], [""]], "row 101: hard negative 0 is empty"),
    ([["a"], ["p1"]], "row 101: hard negative 0 is the row's positive"),
])
def test_query_passage_bad_rows(negatives, message):
    with pytest.raises(DataError, match=message):
        make("query_passage", negatives_column="negatives")(dpr_batch(negatives))
    with pytest.raises(DataError, match=r"row 100: column 'query' is empty"):
        make("query_passage")({"query": [" "], "positive": ["p"], "index": torch.tensor([100])})
    with pytest.raises(ValueError, match="num_negatives must be >= 1"):
        make("query_passage", negatives_column="negatives", num_negatives=0)


# ---------------------------------------------------------------------------------------- evaluators
class LookupEncoder:
    """``encode`` by a text -> vector function (float32 (N, D))."""

    def __init__(self, fn):
        self.fn = fn

    def encode(self, texts, batch_size=128):
        return torch.stack([self.fn(t) for t in texts]).float()


def one_hot(i: int, dim: int = 512) -> torch.Tensor:
    v = torch.zeros(dim)
    v[i % dim] = 1.0
    return v


def test_next_sentence_pairs_do_not_overlap_or_repeat():
    documents = [["a", "b", "c", "d", "e"], ["f", "g"], ["a", "h"], ["i", "i"]]
    assert list(zip(*next_sentence_pairs(documents))) == [("a", "b"), ("c", "d"), ("f", "g")]
    assert list(zip(*next_sentence_pairs(documents, start=1))) == [("b", "c"), ("d", "e")]
    queries, passages = inverse_cloze_pairs([list("abcdefghijk")], window=1)
    assert list(zip(queries, passages)) == [("b", "a c"), ("e", "d f"), ("h", "g i")]


def test_next_sentence_evaluator_recall():
    anchors = [f"s{i}" for i in range(40)]
    nexts = [f"t{i}" for i in range(40)]
    ev = NextSentenceEvaluator(anchors, nexts, group_size=8, name="ns")
    assert ev.num_groups == 5 and ev.primary_metric == "ns/recall@1"
    perfect = LookupEncoder(lambda t: one_hot(int(t[1:])))
    assert ev(perfect) == {"ns/recall@1": 1.0, "ns/mrr": 1.0}
    collapsed = LookupEncoder(lambda t: torch.ones(4))
    assert ev(collapsed)["ns/recall@1"] == 0.0  # ties count against the anchor
    # one group of 40: anchor i is closest to the next sentence of anchor i + 1, its own ranks second
    shifted = LookupEncoder(lambda t: one_hot(int(t[1:]) + 1) + 0.5 * one_hot(int(t[1:])) if t[0] == "s"
                            else one_hot(int(t[1:])))
    result = NextSentenceEvaluator(anchors, nexts, group_size=40, name="ns")(shifted)
    assert result["ns/recall@1"] == pytest.approx(1 / 40)  # only anchor 39 (no next of anchor 40)
    assert result["ns/mrr"] == pytest.approx((39 * 0.5 + 1) / 40)
    with pytest.raises(ValueError, match="fewer than one group"):
        NextSentenceEvaluator(anchors[:5], nexts[:5], group_size=8)
    # groups never mix pair sets: 12 pairs of set 0 and 12 of set 1 give 2 + 2 groups of 5 (4 + 4 left out)
    sets = [i % 2 for i in range(24)]
    ev = NextSentenceEvaluator(anchors[:24], nexts[:24], group_size=5, pair_sets=sets)
    assert ev.num_groups == 4
    set_of = {a: i % 2 for i, a in enumerate(anchors[:24])}
    assert all(len({set_of[a] for a in ev.anchors[g * 5 : (g + 1) * 5]}) == 1 for g in range(4))


def test_order_recovery_evaluator_scores_the_original_order():
    documents = [[" ".join(f"d{d}s{j}{x}" for x in "abcd") for j in range(7)] for d in range(6)]
    passages = passages_of(documents, 3)
    assert len(passages) == 12 and passages[0] == documents[0][:3]
    assert len(passages_of(documents, 3, stride=1)) == 6 * 5
    ev = OrderRecoveryEvaluator(passages, num_permutations=3, delete_probability=0.3, seed=0, name="order")
    deleted = 0
    for anchor, original, perms, passage in zip(ev.anchors, ev.originals, ev.permuted, passages):
        assert original == " ".join(passage) and is_subsequence(anchor.split(), original.split())
        deleted += len(original.split()) - len(anchor.split())
        assert len(set(perms)) == 3 and all(p != original and sorted(p.split()) == sorted(original.split())
                                            for p in perms)
    assert deleted > 0
    originals, anchors = set(ev.originals), set(ev.anchors)

    def order_aware(text: str) -> torch.Tensor:  # anchors and originals agree, shuffles get an extra direction
        v = one_hot(int(re.match(r"d(\d+)s", text).group(1)), 16)
        return v if text in originals or text in anchors else v + torch.ones(16)

    assert ev(LookupEncoder(order_aware))["order/accuracy"] == 1.0
    bag = LookupEncoder(lambda t: sum(one_hot(hash(w) % 997, 997) for w in t.split()))
    result = ev(bag)  # an order-blind embedding ties the original with every shuffle: never recovered
    assert result == {"order/accuracy": 0.0, "order/pairwise_accuracy": 0.0, "order/margin": pytest.approx(0.0, abs=1e-6)}
    with pytest.raises(ValueError, match="num_permutations must be in 1..5"):
        OrderRecoveryEvaluator(passages, num_permutations=6)
    again = OrderRecoveryEvaluator(passages, num_permutations=3, delete_probability=0.3, seed=0)
    assert (again.anchors, again.permuted) == (ev.anchors, ev.permuted)  # fixed by the seed


def test_evaluators_from_config_on_wikipedia():
    path = shared("wiki", "wiki1m_for_simcse.first11914.txt")
    held = {"name": "documents", "path": str(path), "split": "heldout"}
    ns = EVALUATORS.get("next_sentence").from_config(dict(data=held, group_size=64, all_pairs=False, max_pairs=256,
                                                          prefix="ns"))
    assert ns.num_groups == 4 and len(set(ns.anchors) | set(ns.nexts)) == 512
    every = EVALUATORS.get("next_sentence").from_config(dict(data=held, group_size=64))
    assert every.num_groups >= 2 * ns.num_groups
    for g in range(every.num_groups):  # no anchor is the answer of another pair of its group
        group = slice(g * 64, (g + 1) * 64)
        assert not set(every.anchors[group]) & set(every.nexts[group])
    train_sentences = {s for r in build_dataset({**held, "split": "train"}).rows for s in r["sentences"]}
    assert sum(a in train_sentences for a in ns.anchors) < 5  # held-out text (a few boilerplate repeats)
    order = EVALUATORS.get("order_recovery").from_config(dict(data={**held, "min_sentences": 3}, max_passages=50,
                                                               max_chars=300))
    assert len(order.anchors) == 50 and order.primary_metric == "order_recovery/accuracy"
    assert all(len(o) <= 300 for o in order.originals)
    ict = EVALUATORS.get("inverse_cloze").from_config(dict(data=held, group_size=32, max_pairs=64))
    assert ict.num_groups == 2 and ict.primary_metric == "inverse_cloze/recall@1"
    with pytest.raises(DataError, match="column 'sentences'"):
        EVALUATORS.get("next_sentence").from_config(dict(data={"name": "text_lines", "path": str(path), "limit": 10}))


# ---------------------------------------------------------------------------------------- configs and train()
DOCUMENT_TASK_CONFIGS = ["inverse_cloze_offline.yaml", "next_sentence_offline.yaml", "sentence_permutation_offline.yaml"]


def test_every_nlp_config_loads_and_the_document_task_list_is_current():
    """Every config under configs/nlp loads (CPC and skip-gram are checked by their own tests); the sentence-level
    document tasks below are the ones that read ``documents`` and evaluate on the held-out tail."""
    names = sorted(p.name for p in (ROOT / "configs" / "nlp").glob("*.yaml"))
    for name in names:
        load_config(ROOT / "configs" / "nlp" / name)
    assert set(DOCUMENT_TASK_CONFIGS) <= set(names)


@pytest.mark.parametrize("config", [ROOT / "configs" / "nlp" / name for name in DOCUMENT_TASK_CONFIGS],
                         ids=lambda p: p.name)
def test_nlp_configs_load(config):
    cfg = load_config(config)
    assert cfg.encoder["model"] == MINILM and cfg.data.train["name"] == "documents"
    assert cfg.data.train["split"] == "train"
    assert all(e["data"]["split"] == "heldout" for e in cfg.evaluators)


@pytest.mark.parametrize("view", [
    {"name": "next_sentence", "include_previous": True},
    {"name": "sentence_permutation", "num_permutations": 2},
    {"name": "inverse_cloze", "keep_probability": 0.1},
    {"name": "title_body"},
])
def test_two_training_steps_of_each_view_with_a_tiny_bert(tmp_path, corpus_file, view):
    from mmcontrast.training import train

    tree = {
        "data": {"train": {"name": "documents", "path": str(corpus_file), "min_sentences": 3, "split": "train",
                           "holdout": 0.2}},
        "view": view,
        "encoder": {"name": "text", "config": TINY_BERT, "tokenizer": MINILM, "pooling": "mean", "max_length": 48},
        "objective": {"name": "info_nce", "temperature": 0.05},
        "evaluators": [{"name": "next_sentence", "group_size": 2,
                        "data": {"name": "documents", "path": str(corpus_file), "split": "heldout", "holdout": 0.2}}],
        "train": {"batch_size": 4, "max_steps": 2, "progress_bar": False, "log_with": []},
        "export": {"enabled": False},
        "output_dir": str(tmp_path / "run"),
    }
    result = train(load_config(write_config(tmp_path / "cfg.yaml", tree)))
    assert result.steps == 2
    assert set(result.final_metrics) == {"next_sentence/recall@1", "next_sentence/mrr"}
    assert all(math.isfinite(v) for v in result.final_metrics.values())
