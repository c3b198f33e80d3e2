"""Vision pretext views (mmcontrast.views: two_view_augment's asymmetric pair, multi_crop, jigsaw, rotation) on
real images: what each view does to the pixels, seeding, the index column, config keys and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from mmcontrast.data.errors import DataError
from mmcontrast.views import VIEWS, Jigsaw, MultiCrop, Rotation, TwoViewAugment
from mmcontrast.views.augment import solarize
from mmcontrast.views.jigsaw import jigsaw_shuffle, merge_tiles, split_tiles

sklearn_datasets = pytest.importorskip("sklearn.datasets")

# every augmentation off: a view is the input resized to ``size`` (crop of the whole square image)
OFF = {"crop_scale": [1.0, 1.0], "crop_ratio": [1.0, 1.0], "flip_p": 0.0, "jitter_p": 0.0, "grayscale_p": 0.0,
       "blur_p": 0.0}


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """(32, 3, 48, 48) uint8: square crops at 16 positions of scikit-learn's two sample photos, 48x48."""
    crops = []
    for image in sklearn_datasets.load_sample_images().images:  # (427, 640, 3) uint8
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().unsqueeze(0)
        for left in torch.linspace(0, 640 - 400, 16).long().tolist():
            square = x[..., 10:410, left:left + 400]
            crops.append(F.interpolate(square, size=(48, 48), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(crops).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """(64, 1, 8, 8) uint8 handwritten digits."""
    images = sklearn_datasets.load_digits().images[:64] * (255.0 / 16.0)
    return torch.from_numpy(images.round().astype(np.uint8)).unsqueeze(1)


def as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0


def make(name: str, **kwargs):
    return VIEWS.get(name)(**kwargs)


# ------------------------------------------------------------------------------------ registry, seeding
@pytest.mark.parametrize("name,kwargs", [
    ("two_view_augment", {"augment": {"size": 24}, "augment2": {"solarize_p": 0.5}}),
    ("multi_crop", {"global_size": 24, "local_size": 12, "num_local": 2}),
    ("jigsaw", {"augment": {"size": 24}}),
    ("rotation", {"augment": {"size": 24}}),
    ("rotation", {"augment": {"size": 24}, "predict_rotation": True}),
])
def test_same_seed_identical_different_seed_different(photos, name, kwargs):
    batch = {"image": photos[:8]}
    first, again, other = (make(name, seed=s, **kwargs)(batch) for s in (3, 3, 4))
    for role in ("query", "positive", "labels"):
        a, b, c = getattr(first, role), getattr(again, role), getattr(other, role)
        if a is not None:
            assert torch.equal(a, b), role
    assert not torch.equal(first.query, other.query)
    assert first.positive is None or not torch.equal(first.query, first.positive)
    for a, b in zip(first.crops or [], again.crops or []):
        assert torch.equal(a, b)
    view = make(name, seed=3, **kwargs)
    state = view.generator.get_state()  # the trainer checkpoints this state; restoring it replays the views
    one = view(batch)
    view.generator.set_state(state)
    assert torch.equal(view(batch).query, one.query)


@pytest.mark.parametrize("name,kwargs", [
    ("two_view_augment", {}), ("multi_crop", {"global_size": 16, "local_size": 8, "num_local": 1}),
    ("jigsaw", {"augment": {"size": 30}}), ("rotation", {}),
])
def test_index_column_becomes_indices_and_labels_pass_through(photos, name, kwargs):
    batch = {"image": photos[:4], "label": torch.tensor([3, 1, 4, 1])}
    assert make(name, **kwargs)(batch).indices is None
    views = make(name, label_column="label", **kwargs)({**batch, "index": [10, 11, 12, 13]})
    assert views.indices.dtype == torch.long and views.indices.tolist() == [10, 11, 12, 13]
    assert views.labels.tolist() == [3, 1, 4, 1]


@pytest.mark.parametrize("name", ["two_view_augment", "multi_crop", "jigsaw", "rotation"])
def test_non_image_column_and_unknown_augment_key_name_the_view_and_key(name):
    with pytest.raises(TypeError, match=rf"view '{name}': column 'text' \(key 'view.column'\) must hold image"):
        make(name, column="text", **({"augment": {"size": 30}} if name == "jigsaw" else {}))({"text": ["a", "b"]})
    with pytest.raises(ValueError, match=r"unknown key 'view.augment.solarise_p' \(did you mean 'solarize_p'\?\)"):
        make(name, augment={"solarise_p": 0.2})
    with pytest.raises(DataError, match=f"view '{name}': column 'image' not found.*columns: text"):
        make(name, **({"augment": {"size": 30}} if name == "jigsaw" else {}))({"text": ["a"]})


def test_yaml_examples_validate_and_build(tmp_path):
    from mmcontrast.config import load_config
    from mmcontrast.training.build import build_view

    examples = {
        "two_view_augment": "{name: two_view_augment, augment: {size: 32, blur_p: 1.0}, "
                            "augment2: {blur_p: 0.1, solarize_p: 0.2}}",
        "multi_crop": "{name: multi_crop, global_size: 32, local_size: 16, num_local: 4, "
                      "global_scale: [0.14, 1.0], local_scale: [0.05, 0.14], augment: {blur_p: 0.5}}",
        "jigsaw": "{name: jigsaw, grid: 3, tile_jitter: 0.25, augment: {size: 30, rotation_p: 0.5, "
                  "rotation_degrees: 15}}",
        "rotation": "{name: rotation, predict_rotation: true, augment: {size: 32, crop_scale: [0.3, 1.0]}}",
    }
    for name, view in examples.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"view: {view}\n")
        cfg = load_config(path)
        built = build_view(cfg, seed=0, device=torch.device("cpu"))
        assert isinstance(built, VIEWS.get(name)) and built.generator.initial_seed() == 0
        assert yaml.safe_load(view)["name"] == name


# ----------------------------------------------------------------------------- two views, asymmetric
def test_augment2_changes_only_the_second_view(photos):
    batch = {"image": photos[:8]}
    resized = as_float(photos[:8])
    views = TwoViewAugment(augment={**OFF, "size": 48}, augment2={"solarize_p": 1.0})(batch)
    assert torch.allclose(views.query, resized, atol=1e-5)  # view 1: no solarisation
    assert torch.allclose(views.positive, solarize(views.query), atol=1e-5)  # view 2: every sample solarised
    assert (views.positive - views.query).abs().amax(dim=(1, 2, 3)).min() > 0.2
    symmetric = TwoViewAugment(augment={**OFF, "size": 48})(batch)
    assert torch.allclose(symmetric.query, symmetric.positive, atol=1e-6)  # default: augment2 = augment
    # augment2 overrides only its own keys: size, crop and the rest still come from augment
    small = TwoViewAugment(augment={**OFF, "size": 24}, augment2={"blur_p": 1.0, "blur_sigma": [2.0, 2.0]})(batch)
    assert small.positive.shape == small.query.shape == (8, 3, 24, 24)
    assert small.positive.std(dim=(2, 3)).mean() < small.query.std(dim=(2, 3)).mean()  # only view 2 blurred
    with pytest.raises(ValueError, match=r"unknown key 'view.augment2.sise'.*did you mean 'size'"):
        TwoViewAugment(augment2={"sise": 8})
    with pytest.raises(ValueError, match=r"view\.augment2\.solarize_p must be in \[0, 1\], got 2"):
        TwoViewAugment(augment2={"solarize_p": 2.0})


@pytest.mark.parametrize("augment, message", [
    ({"size": 0}, r"view\.augment\.size must be a positive int .*got 0"),  # B31: died in affine_grid
    ({"size": [16, -1]}, r"view\.augment\.size must be a positive int .*got \(16, -1\)"),
    ({"flip_p": "often"}, r"view\.augment\.flip_p must be float, got 'often' \(str\)"),
    ({"brightness": -0.5}, r"view\.augment\.brightness must be a finite number >= 0, got -0\.5"),
])
def test_bad_augment_settings_name_the_key(augment, message):
    with pytest.raises(ValueError, match=message):
        TwoViewAugment(augment=augment)
    with pytest.raises(ValueError, match=message):
        TwoViewAugment.check_params({"augment": augment})  # the config-time hook, before anything is built


# ------------------------------------------------------------------------------------------ multi-crop
def ramp_images(batch: int, side: int = 64) -> torch.Tensor:
    """(B, 3, side, side): channel 0 = x, channel 1 = y of the pixel centre as a fraction of the side."""
    coords = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    ramp = torch.stack((coords.view(1, -1).expand(side, side), coords.view(-1, 1).expand(side, side),
                        torch.zeros(side, side)))
    return ramp.expand(batch, -1, -1, -1).contiguous()


def covered_area(crops: torch.Tensor) -> torch.Tensor:
    """(B,) fraction of the source image a crop (B, 3, L, L) of ``ramp_images`` shows: the span of the x and y
    ramps, rescaled from the L sampled pixel centres to the box edges."""
    side = crops.shape[-1]
    span = crops[:, :2].amax(dim=(2, 3)) - crops[:, :2].amin(dim=(2, 3))
    return (span * side / (side - 1)).prod(dim=1)


def test_multi_crop_shapes_and_local_crops_cover_smaller_areas():
    batch = 64
    view = MultiCrop(global_size=32, local_size=12, num_local=3, augment={"jitter_p": 0.0, "grayscale_p": 0.0,
                                                                         "blur_p": 0.0}, seed=1)
    out = view({"image": ramp_images(batch)})
    assert out.query.shape == out.positive.shape == (batch, 3, 32, 32)
    assert len(out.crops) == 3 and all(c.shape == (batch, 3, 12, 12) for c in out.crops)
    glob = torch.cat([covered_area(out.query), covered_area(out.positive)])
    local = torch.cat([covered_area(c) for c in out.crops])
    assert glob.min() > 0.14 * 0.98 and glob.max() <= 1.0 + 1e-4 and glob.max() > 0.6
    assert local.min() > 0.05 * 0.9 and local.max() < 0.14 * 1.02
    assert local.mean() * 3 < glob.mean()
    assert not torch.allclose(out.crops[0], out.crops[1])  # each local crop its own box
    # the crop of sample i is a crop of image i: a batch of constant images keeps each value in its crops
    levels = torch.linspace(0.1, 0.9, 4).view(4, 1, 1, 1).expand(4, 3, 20, 20)
    flat = MultiCrop(global_size=8, local_size=4, num_local=2, augment={"jitter_p": 0.0, "blur_p": 0.0})({
        "image": levels.contiguous()})
    for crop in [flat.query, flat.positive, *flat.crops]:
        assert torch.allclose(crop.mean(dim=(1, 2, 3)), levels[:, 0, 0, 0], atol=1e-5)


def test_multi_crop_colour_augmentation_and_asymmetric_global_view(photos):
    batch = {"image": photos[:8]}
    colour_off = {k: v for k, v in OFF.items() if k != "crop_scale"}  # multi_crop sets crop_scale itself
    view = MultiCrop(global_size=32, local_size=16, num_local=2, augment=colour_off, augment2={"solarize_p": 1.0})
    out = view(batch)
    assert (out.positive <= 0.5 + 1e-6).all()  # global view 2 is solarised: x >= 0.5 became 1 - x <= 0.5
    assert (out.query > 0.6).any() and all((crop > 0.6).any() for crop in out.crops)  # the others are not
    jittered = MultiCrop(global_size=32, local_size=16, num_local=2, augment={"jitter_p": 1.0}, seed=0)(batch)
    plain = MultiCrop(global_size=32, local_size=16, num_local=2, augment={"jitter_p": 0.0}, seed=0)(batch)
    assert not torch.allclose(jittered.crops[1], plain.crops[1], atol=1e-3)


def test_multi_crop_errors_name_the_key():
    with pytest.raises(ValueError, match=r"multi_crop.*instead of 'view.augment.size'"):
        MultiCrop(augment={"size": 32})
    with pytest.raises(ValueError, match=r"multi_crop.*'view.local_scale'"):
        MultiCrop(local_scale=(0.5, 0.1))
    with pytest.raises(ValueError, match=r"multi_crop.*'view.num_local'"):
        MultiCrop(num_local=-1)
    assert MultiCrop(global_size=16, num_local=0)({"image": torch.zeros(2, 3, 20, 20)}).crops is None


# ---------------------------------------------------------------------------------------------- jigsaw
def matching_tiles(out: torch.Tensor, source: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, n): for each output tile the index of the closest source tile (mean squared difference)."""
    a, b = split_tiles(out, grid).flatten(2), split_tiles(source, grid).flatten(2)  # (B, n, D)
    return torch.cdist(a, b).argmin(dim=2)


def test_jigsaw_is_a_permutation_of_the_tiles(photos):
    grid, batch = 3, photos.shape[0]
    views = Jigsaw(augment={**OFF, "size": 48}, grid=grid, tile_jitter=0.0, seed=5)({"image": photos})
    images = as_float(photos)
    assert torch.allclose(views.positive, images, atol=1e-5)
    tiles_in, tiles_out = split_tiles(images, grid), split_tiles(views.query, grid)  # (B, 9, 3, 16, 16)
    source = matching_tiles(views.query, images, grid)
    assert torch.equal(source.sort(dim=1).values, torch.arange(9).expand(batch, 9))  # a bijection per sample
    assert torch.allclose(tiles_out, tiles_in[torch.arange(batch).unsqueeze(1), source], atol=1e-5)  # same multiset
    identity = (source == torch.arange(9)).all(dim=1)
    assert int(identity.sum()) <= 1  # 1 / 9! chance each
    assert len({tuple(p) for p in source.tolist()}) > batch - 2  # own permutation per sample
    assert torch.equal(merge_tiles(split_tiles(images, grid), grid), images)


def test_jigsaw_shuffle_reports_its_permutation_and_jitters_tiles(photos):
    images = as_float(photos)
    shuffled, permutation = jigsaw_shuffle(images, 4, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(split_tiles(shuffled, 4), split_tiles(images, 4)[torch.arange(32).unsqueeze(1), permutation])
    jittered, permutation = jigsaw_shuffle(images, 3, 0.25, torch.Generator().manual_seed(0))
    assert not torch.allclose(split_tiles(jittered, 3), split_tiles(images, 3)[torch.arange(32).unsqueeze(1),
                                                                                permutation], atol=1e-2)
    # a jittered tile still looks most like the tile it was cut from (real photos: tiles differ)
    assert (matching_tiles(jittered, images, 3) == permutation).float().mean() > 0.8  # 0.92 here; chance: 1/9
    again, _ = jigsaw_shuffle(images, 3, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(jittered, again)


def test_jigsaw_variant_is_colour_augmented_independently_and_grayscale_works(photos, digits):
    views = Jigsaw(augment={**OFF, "size": 48, "jitter_p": 1.0}, tile_jitter=0.0)({"image": photos[:8]})
    source = matching_tiles(views.query, views.positive, 3)
    unshuffled = merge_tiles(split_tiles(views.query, 3).gather(
        1, source.argsort(dim=1).view(8, 9, 1, 1, 1).expand(-1, -1, 3, 16, 16)), 3)
    assert not torch.allclose(unshuffled, views.positive, atol=1e-2)  # independent colour jitter
    gray = Jigsaw(augment={"size": 9})({"image": digits})
    assert gray.positive.shape == gray.query.shape == (64, 1, 9, 9)


def test_jigsaw_encode_tiles_gives_the_same_shuffled_tiles_unassembled(photos):
    """PIRL's per-tile encoding: the query is the tiles (B, n, C, th, tw) that the default view assembles."""
    kwargs = {"augment": {"size": 48}, "grid": 3, "tile_jitter": 0.25, "seed": 3}
    assembled = Jigsaw(**kwargs)({"image": photos})
    tiled = Jigsaw(**kwargs, encode_tiles=True)({"image": photos})
    assert tiled.tiled_query and not assembled.tiled_query
    assert tiled.query.shape == (32, 9, 3, 16, 16)
    assert torch.equal(merge_tiles(tiled.query, 3), assembled.query)  # same draws, only not put back together
    assert torch.equal(tiled.positive, assembled.positive)
    with pytest.raises(ValueError, match=r"view 'jigsaw': 'view.encode_tiles' must be true or false, got 'yes'"):
        Jigsaw(augment={"size": 30}, encode_tiles="yes")


def test_jigsaw_errors_name_the_view_and_key():
    with pytest.raises(ValueError, match=r"view 'jigsaw': 'view.augment.size' 32 is not divisible by 'view.grid' 3"
                                         r".*30 or 33"):
        Jigsaw()
    with pytest.raises(ValueError, match=r"view 'jigsaw': 'view.grid'"):
        Jigsaw(grid=1)
    with pytest.raises(ValueError, match=r"view 'jigsaw': 'view.tile_jitter'"):
        Jigsaw(augment={"size": 30}, tile_jitter=1.0)
    with pytest.raises(TypeError, match=r"view 'jigsaw': column 'label'.*got a tensor of shape \(4,\)"):
        Jigsaw(column="label", augment={"size": 30})({"label": torch.arange(4)})


# -------------------------------------------------------------------------------------------- rotation
def applied_turns(out: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(B,) the k in 0..3 for which ``out[i]`` equals rot90(images[i], k); asserts one matches exactly."""
    turns = torch.stack([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)], dim=1)  # (B, 4, C, S, S)
    error = (turns - out.unsqueeze(1)).abs().flatten(2).amax(dim=2)
    assert torch.all(error.min(dim=1).values < 1e-5)
    return error.argmin(dim=1)


def test_rotation_labels_match_the_applied_rotation(photos):
    images = as_float(photos)
    views = Rotation(augment={**OFF, "size": 48}, predict_rotation=True, seed=2)({"image": photos})
    assert views.positive is None and views.labels.dtype == torch.long
    assert torch.equal(applied_turns(views.query, images), views.labels)
    for i, k in enumerate(views.labels.tolist()):
        assert torch.allclose(views.query[i], torch.rot90(images[i], k, dims=(-2, -1)), atol=1e-5)
    assert set(views.labels.tolist()) == {0, 1, 2, 3}


def test_rotation_pair_uses_independent_turns(photos):
    images = as_float(photos)
    views = Rotation(augment={**OFF, "size": 48}, seed=2)({"image": photos})
    k1, k2 = applied_turns(views.query, images), applied_turns(views.positive, images)
    assert set(k1.tolist()) == set(k2.tolist()) == {0, 1, 2, 3}
    assert 10 < int((k1 != k2).sum()) < 32  # independent: P(k1 != k2) = 3/4
    assert views.labels is None


def test_rotation_errors_name_the_key():
    with pytest.raises(ValueError, match=r"view 'rotation': 'view.augment.size' must be square"):
        Rotation(augment={"size": [32, 24]})
    with pytest.raises(ValueError, match=r"view 'rotation': 'view.label_column'.*predict_rotation"):
        Rotation(label_column="label", predict_rotation=True)
    with pytest.raises(ValueError, match=r"view 'rotation': 'view.predict_rotation'"):
        Rotation(predict_rotation="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name,kwargs", [
    ("two_view_augment", {"augment2": {"solarize_p": 0.5, "rotation_p": 0.5, "rotation_degrees": 20}}),
    ("multi_crop", {"global_size": 24, "local_size": 12, "num_local": 2}),
    ("jigsaw", {"augment": {"size": 24}}),
    ("rotation", {"augment": {"size": 24}, "predict_rotation": True}),
])
def test_views_run_on_the_generator_device(photos, name, kwargs):
    first = make(name, seed=0, device="cuda", **kwargs)({"image": photos[:8]})  # CPU rows, CUDA generator
    again = make(name, seed=0, device="cuda", **kwargs)({"image": photos[:8]})
    assert first.query.device.type == "cuda" and torch.equal(first.query, again.query)
    assert first.labels is None or first.labels.device.type == "cuda"
