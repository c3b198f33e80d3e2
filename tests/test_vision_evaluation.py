"""Vision evaluation: linear probe, kNN + probe from one encoding, nearest-neighbour grid PNG, raw-pixel
baselines, and the reference figure of the issue (weighted kNN on raw Fashion-MNIST pixels = 0.7885).

Fake encoders only (raw pixels, fixed projections); real data from the Debian package dataset-fashion-mnist.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmcontrast.data import DataError, build_dataset
from mmcontrast.data.images import fashion_mnist, labelled_images
from mmcontrast.evaluation import EVALUATORS
from mmcontrast.evaluation.base import Encoder, Evaluator, run_evaluators
from mmcontrast.evaluation.baselines import PixelEncoder
from mmcontrast.evaluation.frozen import FrozenFeaturesEvaluator
from mmcontrast.evaluation.knn import weighted_knn_predict
from mmcontrast.evaluation.linear_probe import LinearProbeEvaluator, fit_linear_probe, linear_probe_accuracy
from mmcontrast.evaluation.neighbours import (
    BACKGROUND, OTHER_COLOUR, QUERY_COLOUR, SAME_COLOUR, NeighbourGridEvaluator, grid_size, nearest_neighbours,
    precision_at_k, save_neighbour_grid,
)
from mmcontrast.evaluation.probe import ProbeSettings

from conftest import fashion_mnist_root


def fashion(split: str, limit: int | None = None):
    fashion_mnist_root()
    return fashion_mnist(split, limit=limit)


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow caches of the local ``imagefolder`` builders go to the test's folder, not ~/.cache."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


class CountingPixelEncoder(PixelEncoder):
    """Raw pixels; records how many images each call encoded."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        self.calls.append(int(inputs.shape[0]))
        return super().encode(inputs, batch_size)


def blobs(n_per_class: int, num_classes: int, dim: int, seed: int, spread: float = 0.3,
          centres: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian blobs around well separated centres: (features (n*C, D), labels (n*C,), centres (C, D))."""
    g = torch.Generator().manual_seed(seed)
    if centres is None:
        centres = torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(1234)) * 3
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels, centres


# ----------------------------------------------------------------------------------------------- linear probe

@pytest.mark.parametrize("settings", [{"optimizer": "lbfgs", "epochs": 200},
                                      {"optimizer": "adam", "epochs": 100, "lr": 0.1, "batch_size": 64}])
def test_linear_probe_learns_a_separable_problem_perfectly(settings: dict) -> None:
    # The classes differ only along one direction, hidden among large nuisance dimensions (which the
    # standardisation evens out): a linear classifier separates them, chance is 1/4.
    g = torch.Generator().manual_seed(0)
    def data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 4, (n,), generator=g)
        x = torch.randn(n, 12, generator=g) * 100.0
        x[:, 3] = labels.float() * 2.0 + torch.rand(n, generator=g) * 0.5 + 1000.0  # separable with a margin
        return x, labels

    train_x, train_y = data(400)
    test_x, test_y = data(200)
    accuracy = linear_probe_accuracy(train_x, train_y, test_x, test_y, weight_decay=1e-5, **settings)
    assert accuracy == 1.0
    probe = fit_linear_probe(train_x, train_y, weight_decay=1e-5, **settings)
    assert probe.weight.shape == (12, 4) and probe.bias.shape == (4,)
    assert torch.equal(probe.predict(train_x), train_y)
    assert probe.final_loss < 0.25 * math.log(4)  # far below the loss of the zero initialisation
    torch.testing.assert_close(probe.mean, train_x.mean(0))


def test_linear_probe_is_deterministic_and_uses_train_statistics() -> None:
    train_x, train_y, centres = blobs(60, 3, 8, seed=1, spread=2.0)
    test_x, test_y, _ = blobs(40, 3, 8, seed=2, spread=2.0, centres=centres)
    for optimizer in ("lbfgs", "adam"):
        a = fit_linear_probe(train_x, train_y, optimizer=optimizer, epochs=30, seed=5)
        b = fit_linear_probe(train_x, train_y, optimizer=optimizer, epochs=30, seed=5)
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    # Per-feature affine changes of the features are undone by the standardisation.
    base = linear_probe_accuracy(train_x, train_y, test_x, test_y)
    scale, shift = torch.logspace(-3, 3, 8), torch.linspace(-50, 50, 8)
    moved = linear_probe_accuracy(train_x * scale + shift, train_y, test_x * scale + shift, test_y)
    assert abs(base - moved) <= 0.01 and base > 0.9
    # A constant feature (std 0) is kept finite, and only the training split's statistics are used.
    with_constant = torch.cat([train_x, torch.full((len(train_x), 1), 7.0)], dim=1)
    probe = fit_linear_probe(with_constant, train_y, epochs=20)
    assert probe.std[-1] == 1.0 and bool(torch.isfinite(probe.weight).all())
    test_constant = torch.cat([test_x, torch.full((len(test_x), 1), 9.0)], dim=1)
    assert bool(torch.isfinite(probe.logits(test_constant)).all())


def test_linear_probe_rejects_bad_arguments() -> None:
    x, y = torch.randn(10, 3), torch.arange(10) % 2
    with pytest.raises(ValueError, match="optimizer must be one of lbfgs, adam"):
        linear_probe_accuracy(x, y, x, y, optimizer="sgd")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        linear_probe_accuracy(x, y, x, y, epochs=0)
    with pytest.raises(ValueError, match="weight_decay"):
        linear_probe_accuracy(x, y, x, y, weight_decay=-1.0)
    with pytest.raises(ValueError, match="differ in dimension"):
        linear_probe_accuracy(x, y, torch.randn(4, 5), y[:4])
    with pytest.raises(ValueError, match=r"train labels must have shape \(10,\)"):
        linear_probe_accuracy(x, y[:9], x, y)
    with pytest.raises(TypeError, match="integer class indices"):
        linear_probe_accuracy(x, y.float(), x, y)
    with pytest.raises(ValueError, match="nan or inf"):
        linear_probe_accuracy(x, y, torch.full((10, 3), float("nan")), y)
    with pytest.raises(ValueError, match="num_classes=1"):
        linear_probe_accuracy(x, y, x, y, num_classes=1)


@pytest.mark.slow  # 20,000 real images, 60 epochs
def test_linear_probe_on_raw_fashion_mnist_pixels() -> None:
    train, test = fashion("train", limit=20_000), fashion("test")
    encoder = PixelEncoder()
    accuracy = linear_probe_accuracy(encoder.encode(train.images), train.labels, encoder.encode(test.images),
                                     test.labels, epochs=60)
    # Chance is 0.10; the full 60k raw-pixel probe reaches about 0.845 (see the report in baselines.py).
    assert accuracy > 0.80


def test_linear_probe_evaluator_contract_and_nan_model() -> None:
    train_x, train_y, centres = blobs(30, 3, 4, seed=3)
    test_x, test_y, _ = blobs(10, 3, 4, seed=4, centres=centres)
    as_images = lambda x: x.reshape(len(x), 1, 2, 2)  # noqa: E731 - the pixel encoder flattens them back
    evaluator = LinearProbeEvaluator(as_images(train_x), train_y, as_images(test_x), test_y.tolist(), name="lin",
                                     batch_size=7)
    assert isinstance(evaluator, Evaluator) and evaluator.primary_metric == "lin/accuracy"
    encoder = CountingPixelEncoder()
    assert isinstance(encoder, Encoder)
    assert evaluator(encoder) == {"lin/accuracy": 1.0}

    class NanEncoder:
        def encode(self, inputs: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
            return torch.full((len(inputs), 2), float("nan"))

    assert math.isnan(evaluator(NanEncoder())["lin/accuracy"])
    with pytest.raises(ValueError, match="one label per input"):
        LinearProbeEvaluator(as_images(train_x), train_y[:5], as_images(test_x), test_y)
    with pytest.raises(ValueError, match="optimizer"):
        LinearProbeEvaluator(as_images(train_x), train_y, as_images(test_x), test_y,
                             probe=ProbeSettings(optimizer="sgd"))


# ----------------------------------------------------------------------------------------------- frozen features

def test_frozen_features_encodes_once_and_matches_separate_evaluators(tmp_path: Path) -> None:
    train, test = fashion("train", limit=3000), fashion("test", limit=600)
    encoder = CountingPixelEncoder()
    evaluator = FrozenFeaturesEvaluator(train.images, train.labels, test.images, test.labels,
                                        probe=ProbeSettings(k=50, epochs=40),
                                        batch_size=1000, grid_path=str(tmp_path / "grid.png"))
    assert evaluator.primary_metric == "probe/knn_accuracy"
    result = evaluator(encoder)
    assert set(result) == {"probe/knn_accuracy", "probe/linear_accuracy", "probe/precision_at_k"}
    assert sum(encoder.calls) == 3000 + 600  # each split encoded exactly once, grid included
    features_train, features_test = PixelEncoder().encode(train.images), PixelEncoder().encode(test.images)
    knn = weighted_knn_predict(features_train, train.labels, features_test, 10, k=50, temperature=0.1)
    assert result["probe/knn_accuracy"] == pytest.approx(float((knn == test.labels).float().mean()))
    assert result["probe/linear_accuracy"] == pytest.approx(
        linear_probe_accuracy(features_train, train.labels, features_test, test.labels, epochs=40))
    assert result["probe/knn_accuracy"] > 0.6 and result["probe/linear_accuracy"] > 0.6  # chance: 0.1
    assert (tmp_path / "grid.png").is_file() and 0.0 <= result["probe/precision_at_k"] <= 1.0
    merged = run_evaluators([evaluator], encoder)
    assert merged == result


def test_registry_builds_the_new_evaluators_from_dataset_components(tmp_path: Path) -> None:
    fashion("test")
    from mmcontrast.config import validate_component

    train = {"name": "fashion_mnist", "split": "train", "limit": 2000}
    test = {"name": "fashion_mnist", "split": "test", "limit": 400}
    components = [
        {"name": "knn", "train": train, "test": test},
        {"name": "linear_probe", "train": train, "test": test, "epochs": 30},
        {"name": "frozen_features", "train": train, "test": test, "k": 20, "epochs": 30, "prefix": "ff"},
        {"name": "neighbour_grid", "train": train, "test": test, "path": str(tmp_path / "nn.png"), "k": 5},
    ]
    for i, component in enumerate(components):
        validate_component(component, f"evaluators[{i}]", "evaluators", "test")
    evaluators = [EVALUATORS.get(c["name"]).from_config({k: v for k, v in c.items() if k != "name"})
                  for c in components]
    result = run_evaluators(evaluators, PixelEncoder())
    assert set(result) == {"knn/accuracy", "linear/accuracy", "ff/knn_accuracy", "ff/linear_accuracy",
                           "neighbours/precision_at_k"}
    assert result["knn/accuracy"] > 0.6 and result["linear/accuracy"] > 0.6
    assert Image.open(tmp_path / "nn.png").size == grid_size(8, 5)
    from mmcontrast.config import ConfigError

    with pytest.raises(ConfigError, match="unknown key 'evaluators\\[0\\].topk'"):
        validate_component({"name": "neighbour_grid", "train": train, "test": test, "path": "x.png", "topk": 3},
                           "evaluators[0]", "evaluators", "test")


def test_bad_label_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\['target'\] not found; columns: image, label"):
        labelled_images(build_dataset({"name": "sklearn_digits", "split": "test"}),
                        "linear_probe evaluator 'train' data (sklearn_digits)", label_column="target")
    # A Hub-style dataset whose images are in 'img': the default 'image' column is missing and named.
    folder = tmp_path / "folder"
    for name, value in (("a", 0), ("b", 255)):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((3, 3), value, dtype=np.uint8)).save(folder / name / f"{i}.png")
    component = {"name": "hf", "path": "imagefolder", "data_dir": str(folder), "rename_columns": {"image": "img"}}
    with pytest.raises(DataError, match=r"frozen_features evaluator 'train' data \(hf\): column\(s\) \['image'\] "
                                         r"not found; columns: img, label"):
        EVALUATORS.get("frozen_features").from_config({"train": component, "test": component})
    images, labels = labelled_images(build_dataset(component), "x", image_column="img")
    assert images.shape == (4, 1, 3, 3) and images.dtype == torch.uint8 and labels.tolist() == [0, 0, 1, 1]
    assert images[labels == 1].min() == 255


def test_images_of_different_sizes_name_the_row(tmp_path: Path) -> None:
    folder = tmp_path / "sizes"
    for name, height in (("a", 3), ("b", 4)):
        (folder / name).mkdir(parents=True)
        Image.fromarray(np.zeros((height, 3), dtype=np.uint8)).save(folder / name / "0.png")
    with pytest.raises(DataError, match=r"row 1, column 'image' has shape \(1, 4, 3\), row 0 has \(1, 3, 3\)"):
        labelled_images(build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(folder)}),
                        "knn evaluator 'train' data (hf)")


# ----------------------------------------------------------------------------------------------- neighbour grid

def test_save_neighbour_grid_size_frames_and_content(tmp_path: Path) -> None:
    queries = torch.stack([torch.full((1, 4, 4), 255, dtype=torch.uint8), torch.zeros(1, 4, 4, dtype=torch.uint8)])
    neighbours = torch.zeros(2, 3, 3, 4, 4, dtype=torch.uint8)
    neighbours[0, 1, 2] = 200  # a blue neighbour image (RGB)
    neighbours[1] = torch.tensor([10, 20, 30], dtype=torch.uint8).view(3, 1, 1)
    same = torch.tensor([[True, False, True], [False, False, True]])
    path = save_neighbour_grid(queries, neighbours, same, tmp_path / "sub" / "grid.png", cell_size=8, border=2,
                               pad=3, gap=5)
    assert path == tmp_path / "sub" / "grid.png" and path.is_file()
    assert not list(path.parent.glob(".*partial"))  # written atomically
    image = Image.open(path).convert("RGB")
    tile = 8 + 2 * 2
    assert image.size == grid_size(2, 3, cell_size=8, border=2, pad=3, gap=5) == (3 + 4 * (tile + 3) + 5,
                                                                                    3 + 2 * (tile + 3))
    pixels = np.asarray(image)

    def tile_origin(row: int, column: int) -> tuple[int, int]:  # (x, y) of a tile's top-left corner
        x = 3 + column * (tile + 3) + (5 if column > 0 else 0)
        return x, 3 + row * (tile + 3)

    for row in range(2):
        x, y = tile_origin(row, 0)
        assert tuple(pixels[y, x]) == QUERY_COLOUR
        for j in range(3):
            x, y = tile_origin(row, j + 1)
            assert tuple(pixels[y, x]) == (SAME_COLOUR if same[row, j] else OTHER_COLOUR)
            assert tuple(pixels[y + tile - 1, x + tile - 1]) == tuple(pixels[y, x])  # the whole frame
    x, y = tile_origin(0, 0)
    assert tuple(pixels[y + 6, x + 6]) == (255, 255, 255)  # the white query, 4x4 enlarged to 8x8
    x, y = tile_origin(1, 0)
    assert tuple(pixels[y + 6, x + 6]) == (0, 0, 0)
    x, y = tile_origin(0, 2)
    assert tuple(pixels[y + 6, x + 6]) == (0, 0, 200)
    x, y = tile_origin(1, 3)
    assert tuple(pixels[y + 6, x + 6]) == (10, 20, 30)
    assert tuple(pixels[0, 0]) == BACKGROUND
    with pytest.raises(ValueError, match="same_label must have shape"):
        save_neighbour_grid(queries, neighbours, same[:, :2], tmp_path / "x.png")


def test_neighbour_grid_precision_equals_hand_computed_value(tmp_path: Path) -> None:
    # Features are the pixels: images (N, 1, 1, 2) hold 2-D points. Train points at angles 0, 12, 20, 90, 102
    # degrees (labels 0, 0, 1, 1, 1); queries at 5 degrees (label 0) and 95 degrees (label 1).
    def points(degrees: list[float]) -> torch.Tensor:
        radians = torch.tensor(degrees) * math.pi / 180
        return torch.stack([radians.cos(), radians.sin()], dim=1).view(-1, 1, 1, 2)

    train, train_labels = points([0, 12, 20, 90, 102]), torch.tensor([0, 0, 1, 1, 1])
    test, test_labels = points([5, 95]), torch.tensor([0, 1])
    # k=3: query 5 deg -> 0, 12, 20 deg = labels 0, 0, 1 (2 of 3 share its label); query 95 deg -> 90, 102,
    # 20 deg = labels 1, 1, 1 (3 of 3). Precision@3 = 5 / 6.
    evaluator = NeighbourGridEvaluator(train, train_labels, test, test_labels, path=str(tmp_path / "nn.png"),
                                       num_queries=8, k=3, cell_size=16)
    assert evaluator.primary_metric == "neighbours/precision_at_k"
    assert evaluator(PixelEncoder()) == {"neighbours/precision_at_k": pytest.approx(5 / 6)}
    assert Image.open(tmp_path / "nn.png").size == grid_size(2, 3, cell_size=16)  # num_queries clipped to 2
    _, idx = nearest_neighbours(test.flatten(1), train.flatten(1), 3)
    assert idx.tolist() == [[0, 1, 2], [3, 4, 2]]
    assert precision_at_k(test_labels, train_labels[idx]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="must name a .png file"):
        NeighbourGridEvaluator(train, train_labels, test, test_labels, path=str(tmp_path / "nn.jpg"))


def test_neighbour_grid_queries_are_fixed_by_the_seed(tmp_path: Path) -> None:
    train, test = fashion("train", limit=2000), fashion("test", limit=500)
    a = NeighbourGridEvaluator(train.images, train.labels, test.images, test.labels, str(tmp_path / "a.png"), seed=3)
    b = NeighbourGridEvaluator(train.images, train.labels, test.images, test.labels, str(tmp_path / "b.png"), seed=3)
    c = NeighbourGridEvaluator(train.images, train.labels, test.images, test.labels, str(tmp_path / "c.png"), seed=4)
    assert torch.equal(a.query_index, b.query_index) and not torch.equal(a.query_index, c.query_index)
    result = a(PixelEncoder())
    b(PixelEncoder())
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert Image.open(tmp_path / "a.png").size == grid_size(8, 8)
    assert result["neighbours/precision_at_k"] > 0.5  # raw-pixel neighbours mostly share the label (chance 0.1)


# ----------------------------------------------------------------------------------------------- reference figures

@pytest.mark.slow
def test_weighted_knn_on_raw_fashion_mnist_pixels_reproduces_the_reference() -> None:
    """The issue's reference: weighted kNN (k=200, T=0.1, cosine), 60k train / 10k test, raw pixels: 0.7885."""
    train, test = fashion("train"), fashion("test")
    encoder = PixelEncoder()
    predicted = weighted_knn_predict(encoder.encode(train.images), train.labels, encoder.encode(test.images),
                                     num_classes=10, k=200, temperature=0.1)
    accuracy = float((predicted == test.labels).float().mean())
    assert accuracy == pytest.approx(0.7885, abs=0.002)


def test_pixel_encoder() -> None:
    images = torch.arange(2 * 3 * 2 * 2, dtype=torch.uint8).view(2, 3, 2, 2) * 10
    features = PixelEncoder().encode(images, batch_size=1)
    assert features.shape == (2, 12) and features.dtype == torch.float32
    torch.testing.assert_close(features, images.flatten(1).float() / 255)
    floats = torch.rand(3, 1, 2, 2)
    torch.testing.assert_close(PixelEncoder().encode(floats), floats.flatten(1))
    with pytest.raises(TypeError, match=re.escape("(N, C, H, W)")):
        PixelEncoder().encode(["a text"])  # type: ignore[arg-type]
