"""Vision data: Fashion-MNIST / MNIST IDX datasets, ``hf`` with local ``imagefolder`` folders, column renaming
(CIFAR-10's ``img``), image modes and undecodable files. Nothing reaches a hub: every folder is written here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmcontrast.data import DATASETS, DataError, build_dataset
from mmcontrast.data.images import fashion_mnist, mnist

from conftest import fashion_mnist_root, shared


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Arrow caches of the local builders go to the test's folder, not ~/.cache."""
    import datasets

    cache = tmp_path / "hf_cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def class_folder(root: Path, classes: dict[str, int], per_class: int = 3, size: tuple[int, int] = (6, 5)) -> Path:
    """``root/<class>/<i>.png``: grey images whose pixels all equal ``base + i`` (the class's base value)."""
    for name, base in classes.items():
        for i in range(per_class):
            write_png(root / name / f"{i}.png", np.full(size, base + i, dtype=np.uint8))
    return root


# ----------------------------------------------------------------------------------------------- IDX

def test_fashion_mnist_splits_and_rows() -> None:
    fashion_mnist_root()
    train = fashion_mnist("train")
    test = build_dataset({"name": "fashion_mnist", "split": "test"})
    assert len(train) == 60_000 and len(test) == 10_000
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.long and train.column_names == ["image", "label"]
    # Balanced classes: 6,000 / 1,000 per class, labels 0..9.
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    row = test[0]
    assert row["image"].shape == (1, 28, 28) and row["label"] == 9  # the first test image is an ankle boot
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0
    part = fashion_mnist("test", limit=100, start=50)
    assert len(part) == 100 and torch.equal(part.images, test.images[50:150])
    assert torch.equal(part.labels, test.labels[50:150])
    assert "fashion_mnist" in DATASETS and "mnist" in DATASETS


def test_fashion_mnist_missing_files_name_the_path_and_the_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist("train", root=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "apt-get install dataset-fashion-mnist" in message
    with pytest.raises(DataError, match="split must be one of train, test, got 'val'"):
        fashion_mnist("val")


def test_fashion_mnist_reads_uncompressed_files_and_names_a_corrupt_one(tmp_path: Path) -> None:
    # A 2-image uncompressed IDX pair in the layout of the package.
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(n).to_bytes(4, "big") for n in images.shape)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + images.tobytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([7, 3]))
    data = fashion_mnist("test", root=str(tmp_path))
    assert torch.equal(data.images[:, 0], torch.from_numpy(images)) and data.labels.tolist() == [7, 3]
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "t10k-labels-idx1-ubyte")) + ".*magic"):
        fashion_mnist("test", root=str(tmp_path))


def test_mnist_test_split_from_shared_data(tmp_path: Path) -> None:
    root = shared("images_mnist_test")
    data = mnist(str(root), "test", limit=1000)
    assert data.images.shape == (1000, 1, 28, 28) and set(data.labels.tolist()) == set(range(10))
    with pytest.raises(FileNotFoundError, match=re.escape(str(root / "train-images-idx3-ubyte.gz"))):
        mnist(str(root), "train")


# ----------------------------------------------------------------------------------------------- hf: imagefolder

def test_hf_imagefolder_with_data_dir_gives_image_and_label_columns(tmp_path: Path, datasets_cache: Path) -> None:
    root = class_folder(tmp_path / "pets", {"cat": 10, "dog": 200})
    data = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root)})
    assert data.column_names == ["image", "label"] and len(data) == 6
    assert data.features["label"].names == ["cat", "dog"]  # class subfolders, sorted
    rows = [data[i] for i in range(len(data))]
    by_label: dict[int, list[int]] = {0: [], 1: []}
    for row in rows:
        assert row["image"].dtype == torch.uint8 and row["image"].shape == (1, 6, 5)  # grey stays 1 channel
        assert int(row["image"].min()) == int(row["image"].max())
        by_label[row["label"]].append(int(row["image"][0, 0, 0]))
    assert sorted(by_label[0]) == [10, 11, 12] and sorted(by_label[1]) == [200, 201, 202]
    batch = data[0:4]  # batched access decodes every image too
    assert len(batch["image"]) == 4 and all(isinstance(x, torch.Tensor) for x in batch["image"])
    assert any(datasets_cache.rglob("*.arrow"))  # nothing was written outside the test folder
    limited = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "limit": 2})
    assert len(limited) == 2


def test_hf_imagefolder_split_folders(tmp_path: Path) -> None:
    class_folder(tmp_path / "data" / "train", {"a": 0, "b": 100}, per_class=4)
    class_folder(tmp_path / "data" / "test", {"a": 0, "b": 100}, per_class=2)
    train = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(tmp_path / "data")})
    test = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(tmp_path / "data"), "split": "test"})
    assert (len(train), len(test)) == (8, 4)
    assert sorted(test[i]["label"] for i in range(4)) == [0, 0, 1, 1]


def test_hf_image_mode_unifies_grey_and_colour(tmp_path: Path) -> None:
    root = class_folder(tmp_path / "mixed", {"grey": 50}, per_class=2)
    colour = np.zeros((6, 5, 3), dtype=np.uint8)
    colour[..., 0] = 255
    write_png(root / "colour" / "red.png", colour)
    write_png(root / "colour" / "alpha.png", np.full((6, 5, 4), 99, dtype=np.uint8))  # RGBA
    mixed = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root)})
    shapes = sorted(tuple(mixed[i]["image"].shape) for i in range(len(mixed)))
    assert shapes == [(1, 6, 5), (1, 6, 5), (3, 6, 5), (3, 6, 5)]  # RGBA -> RGB by default
    rgb = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_mode": "RGB"})
    images = {tuple(rgb[i]["image"][:, 0, 0].tolist()) for i in range(len(rgb))}
    assert images == {(50, 50, 50), (51, 51, 51), (255, 0, 0), (99, 99, 99)}
    grey = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_mode": "L"})
    assert all(grey[i]["image"].shape == (1, 6, 5) for i in range(len(grey)))
    with pytest.raises(DataError, match="image_mode must be one of L, RGB"):
        build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_mode": "CMYK"})


def test_hf_undecodable_image_names_the_file(tmp_path: Path) -> None:
    root = class_folder(tmp_path / "bad", {"ok": 0}, per_class=2)
    broken = root / "ok" / "broken.png"
    broken.write_bytes(b"this is not a PNG file")
    data = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root)})
    failures = []
    for i in range(len(data)):
        try:
            data[i]
        except DataError as err:
            failures.append(str(err))
    assert len(failures) == 1
    assert f"file '{broken}'" in failures[0] and "column 'image'" in failures[0]
    assert "cannot decode image" in failures[0]


def test_hf_bad_images_skip_leaves_corrupt_and_non_image_files_out_and_names_them(tmp_path: Path) -> None:
    root = class_folder(tmp_path / "bad", {"ok": 0, "other": 1}, per_class=3)
    broken = root / "ok" / "broken.png"
    broken.write_bytes(b"this is not a PNG file")
    truncated = root / "other" / "truncated.png"
    truncated.write_bytes((root / "other" / next(p.name for p in (root / "other").iterdir())).read_bytes()[:40])
    with pytest.warns(UserWarning, match=r"2 row\(s\) with an image that cannot be decoded are skipped") as record:
        data = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "bad_images": "skip"})
    message = str(record[0].message)
    assert str(broken) in message and str(truncated) in message
    assert len(data) == 6
    rows = [data[i] for i in range(len(data))]  # every remaining row decodes
    assert all(row["image"].dtype == torch.uint8 for row in rows)
    assert sorted(int(row["label"]) for row in rows) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(DataError, match="bad_images must be one of error, skip"):
        build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "bad_images": "ignore"})


def test_hf_missing_data_dir_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(missing)})


# ----------------------------------------------------------------------------------------------- hf: renaming

def cifar_like_parquet(path: Path, n: int = 6) -> Path:
    """A local parquet file laid out like ``uoft-cs/cifar10``: an ``img`` Image column and a ``label``
    ClassLabel column, with PNG bytes embedded."""
    import datasets

    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=["plane", "car"])})
    images = [Image.fromarray(np.full((4, 4, 3), 10 * i, dtype=np.uint8)) for i in range(n)]
    datasets.Dataset.from_dict({"img": images, "label": [i % 2 for i in range(n)]}, features=features).to_parquet(
        str(path))
    return path


def test_hf_rename_columns_maps_cifar_img_to_image(tmp_path: Path) -> None:
    path = cifar_like_parquet(tmp_path / "cifar_like.parquet")
    plain = build_dataset({"name": "hf", "path": "parquet", "data_files": str(path)})
    assert plain.column_names == ["img", "label"]
    assert plain[2]["img"].shape == (3, 4, 4)  # detected as an image column from the parquet's features
    data = build_dataset({"name": "hf", "path": "parquet", "data_files": str(path),
                          "rename_columns": {"img": "image"}})
    assert data.column_names == ["image", "label"]
    row = data[3]
    assert set(row) == {"image", "label"} and row["label"] == 1
    assert row["image"].dtype == torch.uint8 and row["image"].shape == (3, 4, 4) and int(row["image"][0, 0, 0]) == 30
    # The renamed column feeds the collate of the views like any image column.
    from mmcontrast.data import collate_rows

    batch = collate_rows([data[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 4, 4) and batch["label"].tolist() == [0, 1, 0, 1]


def test_hf_rename_columns_unknown_column_lists_the_columns(tmp_path: Path) -> None:
    path = cifar_like_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataError, match=r"\['picture'\].*columns: img, label"):
        build_dataset({"name": "hf", "path": "parquet", "data_files": str(path),
                       "rename_columns": {"picture": "image"}})
    with pytest.raises(DataError, match=r"image column\(s\) \['image'\] not found; columns: img, label"):
        build_dataset({"name": "hf", "path": "parquet", "data_files": str(path), "image_columns": ["image"]})


# ----------------------------------------------------------------------------- hf: mixed sizes and image_size
def mixed_folder(root: Path) -> Path:
    """B12: L 16x16, RGB 24x20 (width x height), RGBA 32x32, and a second L 16x16."""
    write_png(root / "a" / "0.png", np.full((16, 16), 10, dtype=np.uint8))
    write_png(root / "a" / "1.png", np.full((20, 24, 3), 20, dtype=np.uint8))
    write_png(root / "a" / "2.png", np.full((32, 32, 4), 30, dtype=np.uint8))
    write_png(root / "a" / "3.png", np.full((16, 16), 40, dtype=np.uint8))
    return root


def test_a_batch_of_mixed_image_sizes_names_the_odd_file_and_the_fix(tmp_path: Path) -> None:
    from mmcontrast.data import collate_rows

    root = mixed_folder(tmp_path / "mixed")
    data = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root)})
    odd = re.escape(str(root / "a" / "1.png"))
    with pytest.raises(DataError, match=rf"^column 'image': file '{odd}' \(row 1 of the batch\) has shape "
                                        r"\(3, 20, 24\) but row 0 has \(1, 16, 16\); the rows of a batch must have one shape; set "
                                        r"data\.train\.image_size=N to resize every image to N x N and set "
                                        r"data\.train\.image_mode=RGB \(or L\)"):
        collate_rows([data[i] for i in range(len(data))])
    rgb = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_mode": "RGB"})  # B12b
    with pytest.raises(DataError, match=r"has shape \(3, 20, 24\) but row 0 has \(3, 16, 16\).*set "
                                        r"data\.train\.image_size=N to resize every image to N x N$"):
        collate_rows([rgb[i] for i in range(len(rgb))])
    with pytest.raises(DataError, match=r"^column 'x': row 1 of the batch has shape \(2,\) but row 0 has \(3,\)"):
        collate_rows([{"x": torch.zeros(3)}, {"x": torch.zeros(2)}, {"x": torch.zeros(3)}])


def test_image_size_resizes_every_image(tmp_path: Path) -> None:
    from mmcontrast.data import collate_rows

    root = mixed_folder(tmp_path / "mixed")
    square = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_size": 32,
                            "image_mode": "RGB"})
    batch = collate_rows([square[i] for i in range(len(square))])
    assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].dtype == torch.uint8
    assert batch["image"][1].float().mean() == 20  # a flat image stays flat
    grey = build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(root), "image_size": [8, 12],
                          "image_mode": "L"})
    assert collate_rows([grey[i] for i in range(len(grey))])["image"].shape == (4, 1, 8, 12)


@pytest.mark.parametrize("size", [0, -3, [8, 0], [1, 2, 3], "big", 2.5])
def test_bad_image_size_is_named(tmp_path: Path, size) -> None:
    from mmcontrast.config import ConfigError, load_config

    with pytest.raises(DataError, match=r"image_size must be a positive int"):
        build_dataset({"name": "hf", "path": "imagefolder", "data_dir": str(tmp_path), "image_size": size})
    with pytest.raises(ConfigError, match=r"data\.train\.image_size must be"):  # at load_config, before any data
        load_config(None, [f"data.train={{name: hf, path: imagefolder, data_dir: {tmp_path}, image_size: {size}}}"])
