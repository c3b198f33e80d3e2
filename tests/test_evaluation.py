"""Evaluation layer: weighted kNN, STS correlation and its loader, alignment / uniformity, evaluator merging.

Tiny fake encoders only (lookup tables, fixed random projections, hashed bags of words): no model downloads.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

import mmcontrast.retrieval  # noqa: F401 - registers evaluator 'retrieval'
from mmcontrast.evaluation import EVALUATORS
from mmcontrast.evaluation.alignment import AlignmentUniformityEvaluator
from mmcontrast.evaluation.base import Encoder, Evaluator, encode_unique_texts, is_better, run_evaluators
from mmcontrast.evaluation.knn import KNNEvaluator, weighted_knn_predict, weighted_knn_scores
from mmcontrast.evaluation.probe import ProbeSettings
from mmcontrast.evaluation.sts import STSEvaluator, load_sts_csv
from mmcontrast.objectives.align_uniform import alignment, uniformity

from conftest import shared

STS_DEV = ("sts", "stsbenchmark", "sts-dev.csv")  # under ../shared/data


# ----------------------------------------------------------------------------------------------- encoders

class LookupEncoder:
    """Texts -> fixed vectors from a table (unknown texts: a seeded random vector). Records every call."""

    def __init__(self, table: dict[str, torch.Tensor] | None = None, dim: int = 8) -> None:
        self.table = dict(table or {})
        self.dim = dim
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> torch.Tensor:
        if text not in self.table:
            g = torch.Generator().manual_seed(zlib.crc32(text.encode()))
            self.table[text] = torch.randn(self.dim, generator=g)
        return self.table[text]

    def encode(self, inputs: list[str], batch_size: int = 128) -> torch.Tensor:
        assert isinstance(inputs, list) and all(isinstance(s, str) for s in inputs)
        self.calls.append(list(inputs))
        return torch.stack([self.vector(s) for s in inputs]).float()


class ProjectionEncoder:
    """Images (N, C, H, W) -> flattened float pixels times a fixed random matrix (N, D)."""

    def __init__(self, in_features: int, dim: int = 6, seed: int = 0) -> None:
        self.weight = torch.randn(in_features, dim, generator=torch.Generator().manual_seed(seed))

    def encode(self, inputs: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        assert isinstance(inputs, torch.Tensor) and inputs.dim() == 4
        out = [inputs[i : i + batch_size].float().flatten(1) @ self.weight for i in range(0, len(inputs), batch_size)]
        return torch.cat(out)


class BagOfWordsEncoder:
    """Texts -> hashed bag of lower-cased words (a weak but meaningful sentence encoder)."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim

    def encode(self, inputs: list[str], batch_size: int = 128) -> torch.Tensor:
        out = torch.zeros(len(inputs), self.dim)
        for i, text in enumerate(inputs):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out


# ----------------------------------------------------------------------------------------------- kNN

def naive_knn(train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, num_classes: int, k: int,
              temperature: float) -> tuple[list[int], torch.Tensor, float]:
    """Per-sample Python loop of Wu et al.'s weighted vote -> (predictions, normalised scores (M, C), min
    margin between the best and second class score, relative)."""
    train = train.double()
    test = test.double()
    preds: list[int] = []
    all_scores = []
    min_margin = math.inf
    for q in test:
        q = q / q.norm()
        sims = [(float(q @ (x / x.norm())), int(y)) for x, y in zip(train, labels)]
        sims.sort(key=lambda p: -p[0])
        if k < len(sims):  # ties-free neighbour set
            assert sims[k - 1][0] - sims[k][0] > 1e-6
        scores = [0.0] * num_classes
        for sim, y in sims[:k]:
            scores[y] += math.exp(sim / temperature)
        total = sum(scores)
        ranked = sorted(scores, reverse=True)
        min_margin = min(min_margin, (ranked[0] - ranked[1]) / total)
        preds.append(max(range(num_classes), key=lambda c: scores[c]))
        all_scores.append([s / total for s in scores])
    return preds, torch.tensor(all_scores), min_margin


@pytest.mark.parametrize("k,temperature", [(1, 0.1), (7, 0.1), (20, 0.5), (40, 0.07)])
def test_weighted_knn_matches_naive_loop(k: int, temperature: float) -> None:
    g = torch.Generator().manual_seed(k)
    train, test = torch.randn(60, 8, generator=g) * 3, torch.randn(25, 8, generator=g)
    labels = torch.randint(0, 4, (60,), generator=g)
    expected, expected_scores, margin = naive_knn(train, labels, test, 4, k, temperature)
    assert margin > 1e-4  # no near-ties between classes: the prediction is unambiguous
    predicted = weighted_knn_predict(train, labels, test, num_classes=4, k=k, temperature=temperature)
    assert predicted.dtype == torch.long and predicted.shape == (25,)
    assert predicted.tolist() == expected
    scores = weighted_knn_scores(train, labels, test, num_classes=4, k=k, temperature=temperature)
    torch.testing.assert_close(scores, expected_scores.float(), atol=1e-5, rtol=1e-4)


def test_weighted_knn_votes_are_weighted_by_similarity() -> None:
    # One very close neighbour of class 1 against three farther neighbours of class 0.
    angles = torch.tensor([0.05, 0.6, 0.65, 0.7])
    train = torch.stack([angles.cos(), angles.sin()], dim=1)
    labels = torch.tensor([1, 0, 0, 0])
    query = torch.tensor([[1.0, 0.0]])
    sims = angles.cos()
    for temperature in (0.05, 0.1):
        weights = (sims / temperature).exp()
        assert weights[0] > weights[1:].sum()  # the single close vote outweighs the three others
        assert weighted_knn_predict(train, labels, query, 2, k=4, temperature=temperature).tolist() == [1]
        scores = weighted_knn_scores(train, labels, query, 2, k=4, temperature=temperature)[0]
        torch.testing.assert_close(scores[1] / scores[0], weights[0] / weights[1:].sum())
    # A large temperature flattens the weights to a plain majority vote.
    assert weighted_knn_predict(train, labels, query, 2, k=4, temperature=100.0).tolist() == [0]
    # A class with no neighbour scores 0; scores sum to 1.
    scores = weighted_knn_scores(train, labels, query, 3, k=4, temperature=0.1)
    assert scores[0, 2] == 0 and float(scores.sum()) == pytest.approx(1.0)


def test_weighted_knn_k_larger_than_train_set_is_clipped() -> None:
    g = torch.Generator().manual_seed(1)
    train, test = torch.randn(5, 3, generator=g), torch.randn(9, 3, generator=g)
    labels = torch.tensor([0, 1, 2, 1, 0])
    big = weighted_knn_scores(train, labels, test, 3, k=200, temperature=0.2)
    torch.testing.assert_close(big, weighted_knn_scores(train, labels, test, 3, k=5, temperature=0.2))
    expected, expected_scores, _ = naive_knn(train, labels, test, 3, 5, 0.2)
    assert weighted_knn_predict(train, labels, test, 3, k=200, temperature=0.2).tolist() == expected
    torch.testing.assert_close(big, expected_scores.float(), atol=1e-5, rtol=1e-4)


def test_weighted_knn_chunking_does_not_change_results() -> None:
    g = torch.Generator().manual_seed(2)
    train, test = torch.randn(100, 16, generator=g), torch.randn(37, 16, generator=g)
    labels = torch.randint(0, 5, (100,), generator=g)
    reference = weighted_knn_scores(train, labels, test, 5, k=10, temperature=0.1, chunk_size=1024)
    for chunk_size in (1, 3, 8, 36, 37, 38):
        scores = weighted_knn_scores(train, labels, test, 5, k=10, temperature=0.1, chunk_size=chunk_size)
        torch.testing.assert_close(scores, reference)
        assert torch.equal(weighted_knn_predict(train, labels, test, 5, k=10, temperature=0.1, chunk_size=chunk_size),
                           reference.argmax(1))


def test_weighted_knn_small_temperature_does_not_overflow() -> None:
    g = torch.Generator().manual_seed(3)
    train, test = torch.randn(50, 4, generator=g), torch.randn(20, 4, generator=g)
    labels = torch.randint(0, 3, (50,), generator=g)
    scores = weighted_knn_scores(train, labels, test, 3, k=10, temperature=1e-3)
    assert torch.isfinite(scores).all()
    nearest = (F.normalize(test, dim=1) @ F.normalize(train, dim=1).T).argmax(1)
    assert scores.argmax(1).tolist() == labels[nearest].tolist()  # tau -> 0: the nearest neighbour decides


def test_weighted_knn_rejects_bad_arguments() -> None:
    train, labels, test = torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), torch.randn(2, 3)
    with pytest.raises(ValueError, match="lie in"):
        weighted_knn_predict(train, torch.tensor([0, 1, 2, 1]), test, num_classes=2)
    with pytest.raises(ValueError, match="dimension"):
        weighted_knn_predict(train, labels, torch.randn(2, 4), num_classes=2)
    with pytest.raises(ValueError, match="k must be"):
        weighted_knn_predict(train, labels, test, num_classes=2, k=0)
    with pytest.raises(ValueError, match="temperature"):
        weighted_knn_predict(train, labels, test, num_classes=2, temperature=0.0)
    with pytest.raises(ValueError, match="empty"):
        weighted_knn_predict(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), test, num_classes=2)
    with pytest.raises(TypeError, match="integer"):
        weighted_knn_predict(train, labels.float(), test, num_classes=2)


def test_knn_evaluator_on_images() -> None:
    g = torch.Generator().manual_seed(4)
    # Two classes of 1x4x4 uint8 images: bright top half vs bright bottom half, with noise.
    def images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 2, (n,), generator=g)
        x = torch.randint(0, 40, (n, 1, 4, 4), generator=g)
        x[labels == 0, :, :2] += 200
        x[labels == 1, :, 2:] += 200
        return x.to(torch.uint8), labels

    train_x, train_y = images(40)
    test_x, test_y = images(30)
    encoder = ProjectionEncoder(16, dim=6)
    evaluator = KNNEvaluator(train_x, train_y.tolist(), test_x, test_y, probe=ProbeSettings(k=200, temperature=0.1),
                             name="knn_img", batch_size=7)
    assert isinstance(evaluator, Evaluator) and isinstance(encoder, Encoder)
    assert evaluator.primary_metric == "knn_img/accuracy" and evaluator.higher_is_better is True
    result = evaluator(encoder)
    assert list(result) == ["knn_img/accuracy"]
    predicted = weighted_knn_predict(encoder.encode(train_x), train_y, encoder.encode(test_x), 2, k=200, temperature=0.1)
    assert result["knn_img/accuracy"] == pytest.approx((predicted == test_y).float().mean().item())

    # Features that are exactly the one-hot class: perfect accuracy.
    class OneHot:
        def encode(self, inputs: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
            top = inputs[:, :, :2].float().mean(dim=(1, 2, 3))
            bottom = inputs[:, :, 2:].float().mean(dim=(1, 2, 3))
            return F.one_hot((bottom > top).long(), 2).float()

    assert evaluator(OneHot())["knn_img/accuracy"] == 1.0


def test_knn_evaluator_on_texts_and_wrong_encoder_output() -> None:
    table = {"a1": torch.tensor([1.0, 0.1]), "a2": torch.tensor([1.0, -0.1]), "b1": torch.tensor([0.1, 1.0]),
             "b2": torch.tensor([-0.1, 1.0]), "qa": torch.tensor([1.0, 0.0]), "qb": torch.tensor([0.0, 1.0])}
    evaluator = KNNEvaluator(["a1", "a2", "b1", "b2"], [0, 0, 1, 1], ["qa", "qb"], [0, 1], probe=ProbeSettings(k=3))
    assert evaluator(LookupEncoder(table)) == {"knn/accuracy": 1.0}
    flipped = KNNEvaluator(["a1", "a2", "b1", "b2"], [0, 0, 1, 1], ["qa", "qb"], [1, 0], probe=ProbeSettings(k=3))
    assert flipped(LookupEncoder(table)) == {"knn/accuracy": 0.0}

    class Wrong:
        def encode(self, inputs: list[str], batch_size: int = 128) -> torch.Tensor:
            return torch.zeros(len(inputs) + 1, 2)

    with pytest.raises(ValueError, match="shape"):
        evaluator(Wrong())
    with pytest.raises(ValueError, match="one per input"):
        KNNEvaluator(["a1", "a2"], [0], ["qa"], [0])


# ----------------------------------------------------------------------------------------------- STS

def test_sts_evaluator_equals_scipy_on_cosine() -> None:
    g = torch.Generator().manual_seed(5)
    words = [f"sentence {i}" for i in range(12)]
    idx1 = torch.randint(0, 12, (30,), generator=g).tolist()
    idx2 = torch.randint(0, 12, (30,), generator=g).tolist()
    s1, s2 = [words[i] for i in idx1], [words[i] for i in idx2]
    scores = (torch.rand(30, generator=g) * 5).tolist()
    encoder = LookupEncoder(dim=5)
    evaluator = STSEvaluator(s1, s2, scores, name="sts_dev", batch_size=4)
    assert evaluator.primary_metric == "sts_dev/spearman" and evaluator.higher_is_better is True
    result = evaluator(encoder)
    assert set(result) == {"sts_dev/spearman", "sts_dev/pearson"}

    a = np.stack([encoder.vector(s).numpy() for s in s1]).astype(np.float64)
    b = np.stack([encoder.vector(s).numpy() for s in s2]).astype(np.float64)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert result["sts_dev/spearman"] == pytest.approx(stats.spearmanr(cosine, scores)[0], abs=1e-6)
    assert result["sts_dev/pearson"] == pytest.approx(stats.pearsonr(cosine, scores)[0], abs=1e-5)
    # Each distinct sentence was encoded exactly once.
    encoded = [s for call in encoder.calls for s in call]
    assert sorted(encoded) == sorted(set(s1) | set(s2))


def test_sts_perfect_encoder_gets_spearman_one() -> None:
    scores = [0.0, 0.4, 1.0, 1.7, 2.5, 3.2, 3.3, 4.1, 4.8, 5.0]
    table = {"anchor": torch.tensor([1.0, 0.0])}
    for i, score in enumerate(scores):
        angle = (5.0 - score) / 5.0 * (math.pi * 0.9)  # cosine decreasing in the angle: increasing in score
        table[f"other {i}"] = torch.tensor([math.cos(angle), math.sin(angle)]) * (i + 1)  # norms do not matter
    evaluator = STSEvaluator(["anchor"] * len(scores), [f"other {i}" for i in range(len(scores))], scores)
    result = evaluator(LookupEncoder(table))
    assert result["sts/spearman"] == pytest.approx(1.0)
    reversed_result = STSEvaluator(["anchor"] * len(scores), [f"other {i}" for i in range(len(scores))],
                                   [5.0 - s for s in scores])(LookupEncoder(table))
    assert reversed_result["sts/spearman"] == pytest.approx(-1.0)


def test_sts_evaluator_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="same length"):
        STSEvaluator(["a", "b"], ["c", "d"], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        STSEvaluator(["a"], ["b"], [1.0])
    with pytest.raises(TypeError, match="list of strings"):
        STSEvaluator(torch.zeros(2, 1, 2, 2), ["c", "d"], [1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        STSEvaluator(["a", "b"], ["c", "d"], [1.0, 2.0], name="")


def test_load_sts_csv_reads_the_real_dev_file() -> None:
    s1, s2, scores = load_sts_csv(shared(*STS_DEV))
    assert len(s1) == len(s2) == len(scores) == 1500
    assert all(0.0 <= s <= 5.0 for s in scores)
    assert (s1[0], s2[0], scores[0]) == ("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", 5.0)
    assert any('"' in s for s in s1 + s2)  # quotes kept verbatim (no CSV quoting)
    assert all("\t" not in s and s == s.strip("\r\n") for s in s1 + s2)
    # A bag-of-words encoder correlates clearly (but imperfectly) with human judgement.
    spearman = STSEvaluator(s1, s2, scores)(BagOfWordsEncoder())["sts/spearman"]
    assert 0.3 < spearman < 0.95


def test_load_sts_csv_quotes_extra_columns_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "sts.csv"
    path.write_text(
        'g\tf\t2012\t0001\t4.5\tHe said "hi.\tShe said "hello".\n'
        "\n"
        "g\tf\t2016\t0002\t1\tA b.\tC d.\tsource one\tsource two\r\n",
        encoding="utf-8",
    )
    s1, s2, scores = load_sts_csv(str(path))
    assert s1 == ['He said "hi.', "A b."] and s2 == ['She said "hello".', "C d."] and scores == [4.5, 1.0]


def test_load_sts_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    good = "g\tf\t2012\t0001\t3.0\tA.\tB.\n"
    few = tmp_path / "few.csv"
    few.write_text(good + good + "g\tf\t2012\t0003\t3.0\tonly one sentence\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{few}:3:") + ".*at least 7 .*found 6"):
        load_sts_csv(few)

    bad_score = tmp_path / "bad_score.csv"
    bad_score.write_text(good + "g\tf\t2012\t0002\tfive\tA.\tB.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{bad_score}:2:") + ".*score.*'five'"):
        load_sts_csv(bad_score)

    nan_score = tmp_path / "nan_score.csv"
    nan_score.write_text("g\tf\t2012\t0002\tnan\tA.\tB.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{nan_score}:1:")):
        load_sts_csv(nan_score)

    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_sts_csv(missing)

    for name, content in (("empty.csv", ""), ("blank.csv", "\n\n  \n")):
        empty = tmp_path / name
        empty.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=re.escape(str(empty)) + ".*no STS rows"):
            load_sts_csv(empty)


# ----------------------------------------------------------------------------------------------- alignment / uniformity

def test_alignment_identical_and_antipodal_pairs() -> None:
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(6))
    assert float(alignment(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(alignment(x, 3.0 * x)) == pytest.approx(0.0, abs=1e-6)  # rows are L2-normalised
    assert float(alignment(x, -x)) == pytest.approx(4.0, abs=1e-5)
    assert float(alignment(x, -x, alpha=1)) == pytest.approx(2.0, abs=1e-5)
    y = torch.randn(10, 4, generator=torch.Generator().manual_seed(7))
    naive = sum(float((a / a.norm() - b / b.norm()).norm() ** 2) for a, b in zip(x, y)) / 10
    assert float(alignment(x, y)) == pytest.approx(naive, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        alignment(x, y[:5])


def test_uniformity_values() -> None:
    repeated = torch.tensor([[0.6, 0.8]]).repeat(7, 1) * torch.arange(1, 8).unsqueeze(1)  # one direction
    assert float(uniformity(repeated)) == pytest.approx(0.0, abs=1e-6)
    spread_angles = torch.arange(12) * (2 * math.pi / 12)
    clustered_angles = torch.arange(12) * 0.05
    spread = torch.stack([spread_angles.cos(), spread_angles.sin()], 1)
    clustered = torch.stack([clustered_angles.cos(), clustered_angles.sin()], 1)
    assert float(uniformity(spread)) < float(uniformity(clustered)) < 0.0
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(spread[:1])


@pytest.mark.parametrize("t", [2.0, 0.5])
def test_uniformity_equals_naive_double_loop(t: float) -> None:
    x = torch.randn(15, 5, generator=torch.Generator().manual_seed(8)).double()
    x_unit = x / x.norm(dim=1, keepdim=True)
    total, count = 0.0, 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            total += math.exp(-t * float(((x_unit[i] - x_unit[j]) ** 2).sum()))
            count += 1
    assert float(uniformity(x.float(), t=t)) == pytest.approx(math.log(total / count), rel=1e-5, abs=1e-6)


def test_alignment_uniformity_evaluator_on_texts() -> None:
    encoder = LookupEncoder(dim=6)
    a, b = ["x", "y", "z", "x"], ["x2", "y2", "z2", "y"]
    evaluator = AlignmentUniformityEvaluator(a, b, name="au", batch_size=2)
    assert evaluator.primary_metric == "au/alignment" and evaluator.higher_is_better is False
    result = evaluator(encoder)
    ea, eb = (torch.stack([encoder.vector(s) for s in side]) for side in (a, b))
    assert result["au/alignment"] == pytest.approx(float(alignment(ea, eb)), rel=1e-6)
    distinct = ["x", "y", "z", "x2", "y2", "z2"]
    expected_u = float(uniformity(torch.stack([encoder.vector(s) for s in distinct])))
    assert result["au/uniformity"] == pytest.approx(expected_u, rel=1e-6)
    assert sorted(s for call in encoder.calls for s in call) == sorted(distinct)  # each text encoded once

    uniform = ["p", "q", "r"]
    result = AlignmentUniformityEvaluator(a, b, uniform_inputs=uniform)(encoder)
    assert set(result) == {"align_uniform/alignment", "align_uniform/uniformity"}
    assert result["align_uniform/uniformity"] == pytest.approx(
        float(uniformity(torch.stack([encoder.vector(s) for s in uniform]))), rel=1e-6)
    with pytest.raises(ValueError, match="same length"):
        AlignmentUniformityEvaluator(a, b[:2])


def test_alignment_uniformity_evaluator_on_images() -> None:
    g = torch.Generator().manual_seed(9)
    images = torch.randint(0, 256, (10, 3, 2, 2), generator=g, dtype=torch.uint8)
    encoder = ProjectionEncoder(12, dim=4)
    same = AlignmentUniformityEvaluator(images, images.clone(), uniform_inputs=images, batch_size=3)(encoder)
    assert same["align_uniform/alignment"] == pytest.approx(0.0, abs=1e-6)
    assert same["align_uniform/uniformity"] == pytest.approx(float(uniformity(encoder.encode(images))), rel=1e-5)
    noisy = (images.float() + torch.randn(images.shape, generator=g) * 30).clamp(0, 255)
    result = AlignmentUniformityEvaluator(images, noisy)(encoder)
    ea, eb = encoder.encode(images), encoder.encode(noisy)
    assert result["align_uniform/alignment"] == pytest.approx(float(alignment(ea, eb)), rel=1e-5)
    assert result["align_uniform/uniformity"] == pytest.approx(float(uniformity(torch.cat([ea, eb]))), rel=1e-5)


# ----------------------------------------------------------------------------------------------- merging

def test_run_evaluators_merges_and_rejects_duplicate_keys() -> None:
    s1, s2, scores = ["a", "b", "c"], ["d", "e", "f"], [1.0, 2.0, 3.0]
    encoder = LookupEncoder(dim=4)
    merged = run_evaluators([STSEvaluator(s1, s2, scores, name="sts_a"), STSEvaluator(s1, s2, scores, name="sts_b"),
                             AlignmentUniformityEvaluator(s1, s2)], encoder)
    assert list(merged) == ["sts_a/spearman", "sts_a/pearson", "sts_b/spearman", "sts_b/pearson",
                            "align_uniform/alignment", "align_uniform/uniformity"]
    assert all(isinstance(v, float) for v in merged.values())
    assert merged["sts_a/spearman"] == merged["sts_b/spearman"]
    with pytest.raises(ValueError, match="duplicate metric key 'sts/spearman'"):
        run_evaluators([STSEvaluator(s1, s2, scores), STSEvaluator(s1, s2, scores)], encoder)
    assert run_evaluators([], encoder) == {}


def test_run_evaluators_requires_the_primary_metric() -> None:
    class Broken(Evaluator):
        primary = "score"

        def __call__(self, model: Encoder) -> dict[str, float]:
            return {self.key("other"): 1.0}

    with pytest.raises(ValueError, match="primary metric 'broken/score'"):
        run_evaluators([Broken("broken", 8)], LookupEncoder())
    with pytest.raises(TypeError):
        Evaluator("abstract", 8)  # type: ignore[abstract]


def test_is_better_follows_direction() -> None:
    sts = STSEvaluator(["a", "b"], ["c", "d"], [1.0, 2.0])
    au = AlignmentUniformityEvaluator(["a", "b"], ["c", "d"])
    assert is_better(sts, 0.8, 0.7) and not is_better(sts, 0.6, 0.7) and is_better(sts, 0.1, None)
    assert is_better(au, 0.2, 0.3) and not is_better(au, 0.4, 0.3)
    assert not is_better(sts, float("nan"), 0.1) and is_better(au, 0.5, float("nan"))


def test_encode_unique_texts_preserves_first_occurrence_order() -> None:
    encoder = LookupEncoder(dim=3)
    embeddings, row_of = encode_unique_texts(encoder, ["b", "a", "b", "c", "a"], batch_size=2)
    assert list(row_of) == ["b", "a", "c"] and embeddings.shape == (3, 3)
    assert encoder.calls == [["b", "a", "c"]]
    torch.testing.assert_close(embeddings[row_of["c"]], encoder.vector("c"))


def test_every_evaluator_builds_itself_from_its_section(tmp_path: Path) -> None:
    for name in EVALUATORS.names():
        cls = EVALUATORS.get(name)
        assert issubclass(cls, Evaluator) and dataclasses.is_dataclass(cls.Section), name
        assert "Section" in vars(cls), f"{name}: {cls.__name__} inherits its Section"
        own = "config_inputs" in vars(cls) or cls.config_inputs.__func__ is Evaluator.config_inputs.__func__
        assert own, f"{name}: {cls.__name__} inherits the config_inputs of another evaluator"
        assert {"prefix", "batch_size"} <= {f.name for f in dataclasses.fields(cls.Section)}, name
    path = tmp_path / "sts.csv"
    rows = [(4.5, "a b", "a c"), (0.5, "d e", "f g")]
    path.write_text("".join(f"g\tf\t2012\t{i}\t{score}\t{a}\t{b}\n" for i, (score, a, b) in enumerate(rows)))
    sts = EVALUATORS.get("sts").from_config({"path": str(path), "prefix": "dev", "batch_size": 2})
    assert isinstance(sts, STSEvaluator) and sts.primary_metric == "dev/spearman" and sts.batch_size == 2
    with pytest.raises(TypeError, match="topk"):
        EVALUATORS.get("sts").from_config({"path": str(path), "topk": 3})


def test_probe_settings_of_a_section_and_their_checks() -> None:
    section = EVALUATORS.get("linear_probe").Section(train={}, test={}, epochs=7, optimizer="adam")
    probe = ProbeSettings.of(section)
    assert (probe.epochs, probe.optimizer, probe.k) == (7, "adam", 200)  # k: not a linear_probe key, default
    assert probe.linear_args() == dict(epochs=7, lr=None, weight_decay=1e-3, batch_size=1024, optimizer="adam",
                                       seed=0)
    with pytest.raises(ValueError, match="owner: k must be a positive integer"):
        ProbeSettings(k=0).check_knn("owner")
    with pytest.raises(ValueError, match="owner: optimizer must be one of lbfgs, adam"):
        ProbeSettings(optimizer="sgd").check_linear("owner")
