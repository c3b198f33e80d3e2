"""Batched, seeded SimCLR augmentations (mmcontrast.views.augment): reproducibility, per-op semantics against
hand-computed torchvision formulas, per-sample independence and the full pipeline."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmcontrast.views.augment import (
    AugmentConfig,
    ImageAugmentation,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    color_jitter,
    eval_transform,
    gaussian_blur,
    hsv_to_rgb,
    normalize,
    random_grayscale,
    random_horizontal_flip,
    random_resized_crop,
    random_rotation,
    resized_crop,
    rgb_to_hsv,
    rotate,
    rotate90,
    sample_crop_boxes,
    solarize,
    to_float_images,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rand_images(b: int = 8, c: int = 3, h: int = 16, w: int = 16, seed: int = 123) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=gen(seed))


def changed(out: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(B,) bool: which samples differ from the input."""
    return (out - images).abs().flatten(1).amax(1) > 1e-6


def quadrant_image(side: int = 64, values=(0.1, 0.4, 0.7, 1.0)) -> torch.Tensor:
    """(1, 1, side, side): top-left, top-right, bottom-left, bottom-right constant quadrants."""
    img = torch.empty(1, 1, side, side)
    half = side // 2
    img[..., :half, :half], img[..., :half, half:] = values[0], values[1]
    img[..., half:, :half], img[..., half:, half:] = values[2], values[3]
    return img


# -------------------------------------------------------------------------------------------- conversions
def test_to_float_images():
    u8 = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)  # (1, 2, 2)
    out = to_float_images(u8)
    assert out.shape == (1, 1, 2, 2) and out.dtype == torch.float32
    assert torch.allclose(out.flatten(), torch.tensor([0.0, 1.0, 0.2, 0.4]))
    x = torch.rand(2, 3, 4, 4)
    assert to_float_images(x) is x
    with pytest.raises(TypeError):
        to_float_images(torch.zeros(1, 1, 2, 2, dtype=torch.int64))


def test_hsv_round_trip_and_known_values():
    images = rand_images(4, 3, 8, 8)
    images[0, :, 0, 0] = torch.tensor([0.5, 0.5, 0.5])  # gray: s = 0
    images[0, :, 0, 1] = 0.0  # black
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(images)), images, atol=1e-5)
    rgb = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.25, 0.25]]).T.reshape(1, 3, 1, 4)
    hsv = rgb_to_hsv(rgb)[0, :, 0].T
    expected = torch.tensor([[0.0, 1, 1], [1 / 3, 1, 1], [2 / 3, 1, 1], [0.0, 0.5, 0.5]])
    assert torch.allclose(hsv, expected, atol=1e-6)


def test_hue_shift():
    images = rand_images(4)
    assert torch.allclose(adjust_hue(images, torch.zeros(4)), images, atol=1e-5)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    green = adjust_hue(red, torch.tensor([1 / 3]))
    assert torch.allclose(green.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)


# ------------------------------------------------------------------------------------ reproducibility
def test_same_seed_identical_different_seed_different():
    images = rand_images(6, 3, 32, 32)
    aug = ImageAugmentation(AugmentConfig(size=24))
    a, b, c = aug(images, gen(7)), aug(images, gen(7)), aug(images, gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    ops = [
        lambda x, g: random_resized_crop(x, 12, generator=g),
        lambda x, g: random_horizontal_flip(x, generator=g),
        lambda x, g: color_jitter(x, generator=g),
        lambda x, g: random_grayscale(x, p=0.5, generator=g),
        lambda x, g: gaussian_blur(x, 5, generator=g),
        lambda x, g: solarize(x, p=0.5, generator=g),
        lambda x, g: random_rotation(x, 45.0, p=1.0, generator=g),
    ]
    for op in ops:
        assert torch.equal(op(images, gen(1)), op(images, gen(1)))
        assert not torch.equal(op(images, gen(1)), op(images, gen(2)))


# ------------------------------------------------------------------------------ p = 0 / p = 1, per sample
def test_flip_probabilities_and_independence():
    images = rand_images(8)
    assert torch.equal(random_horizontal_flip(images, p=0.0, generator=gen()), images)
    assert torch.equal(random_horizontal_flip(images, p=1.0, generator=gen()), images.flip(-1))
    same = rand_images(1).expand(64, -1, -1, -1).contiguous()
    out = random_horizontal_flip(same, p=0.5, generator=gen())
    flipped = (out == same.flip(-1)).flatten(1).all(1)
    kept = (out == same).flatten(1).all(1)
    assert torch.all(flipped ^ kept)
    assert 10 < int(flipped.sum()) < 54


def test_grayscale():
    images = rand_images(8)
    assert torch.equal(random_grayscale(images, p=0.0, generator=gen()), images)
    out = random_grayscale(images, p=1.0, generator=gen())
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    for ch in range(3):
        assert torch.allclose(out[:, ch], luma, atol=1e-6)
    gray_input = rand_images(4, 1)
    assert torch.equal(random_grayscale(gray_input, p=1.0, generator=gen()), gray_input)
    same = rand_images(1).expand(64, -1, -1, -1).contiguous()
    n_gray = int(changed(random_grayscale(same, p=0.5, generator=gen()), same).sum())
    assert 10 < n_gray < 54


def test_color_jitter_probabilities():
    images = rand_images(8)
    assert torch.equal(color_jitter(images, p=0.0, generator=gen()), images)
    assert torch.equal(color_jitter(images, 0, 0, 0, 0, p=1.0, generator=gen()), images)
    assert changed(color_jitter(images, p=1.0, generator=gen()), images).all()
    same = rand_images(1).expand(64, -1, -1, -1).contiguous()
    out = color_jitter(same, p=0.5, generator=gen())
    n = int(changed(out, same).sum())
    assert 10 < n < 54
    jittered = out[changed(out, same)]
    assert not torch.allclose(jittered[0], jittered[1])  # own factors per sample


@pytest.mark.parametrize("channels", [1, 3])
def test_brightness_matches_torchvision_formula(channels):
    b = 0.4
    images = rand_images(16, channels) * 0.5
    images[:, :, 0, 0] = 0.9  # gets clamped when the factor exceeds 1 / 0.9
    out = color_jitter(images, brightness=b, contrast=0, saturation=0, hue=0, p=1.0, generator=gen(3))
    factor = out[:, 0, 1, 1] / images[:, 0, 1, 1]  # unclamped pixel: out = f * x
    assert torch.all(factor >= 1 - b - 1e-6) and torch.all(factor <= 1 + b + 1e-6)
    assert factor.unique().numel() == 16
    expected = (images * factor.view(-1, 1, 1, 1)).clamp(0, 1)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(adjust_brightness(images, factor), (images * factor.view(-1, 1, 1, 1)).clamp(0, 1))


def test_contrast_matches_torchvision_formula():
    images = rand_images(4)
    factor = torch.tensor([0.0, 0.5, 1.0, 1.5])
    gray = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    mean = gray.mean(dim=(1, 2)).view(-1, 1, 1, 1)
    f = factor.view(-1, 1, 1, 1)
    assert torch.allclose(adjust_contrast(images, factor), (f * images + (1 - f) * mean).clamp(0, 1), atol=1e-6)


def test_blur_matches_naive_reference():
    images = rand_images(6, 3, 12, 10)
    k, s = 5, 1.3
    assert torch.equal(gaussian_blur(images, k, p=0.0, generator=gen()), images)
    out = gaussian_blur(images, k, sigma=(s, s), p=1.0, generator=gen())
    x = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-0.5 * (x / s) ** 2)
    g = g / g.sum()
    kernel2d = torch.outer(g, g).view(1, 1, k, k)
    for i in range(images.shape[0]):
        for ch in range(3):
            padded = F.pad(images[i : i + 1, ch : ch + 1], (k // 2,) * 4, mode="reflect")
            ref = F.conv2d(padded, kernel2d)
            assert torch.allclose(out[i : i + 1, ch : ch + 1], ref, atol=1e-5)


def test_blur_per_sample_sigma_and_independence():
    same = rand_images(1).expand(64, -1, -1, -1).contiguous()
    out = gaussian_blur(same, 5, sigma=(0.5, 2.0), p=0.5, generator=gen())
    blurred = changed(out, same)
    assert 10 < int(blurred.sum()) < 54
    b = out[blurred]
    assert not torch.allclose(b[0], b[1])  # different sigmas
    out_all = gaussian_blur(same, 5, sigma=(0.5, 2.0), p=1.0, generator=gen())
    assert changed(out_all, same).all()


# ------------------------------------------------------------------------------------------------ crop
def test_identity_crop():
    images = rand_images(4, 3, 20, 20)
    out = random_resized_crop(images, 20, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=gen())
    assert out.shape == images.shape
    assert torch.allclose(out, images, atol=1e-5)


def test_crop_of_known_box():
    img = quadrant_image(64)
    boxes = torch.tensor([[0.0, 0.0, 32.0, 32.0], [32.0, 0.0, 64.0, 32.0], [0.0, 32.0, 32.0, 64.0],
                          [32.0, 32.0, 64.0, 64.0]])
    out = resized_crop(img.expand(4, -1, -1, -1), boxes, 16)
    assert out.shape == (4, 1, 16, 16)
    assert torch.allclose(out.mean(dim=(1, 2, 3)), torch.tensor([0.1, 0.4, 0.7, 1.0]), atol=1e-6)


def test_random_crop_quarter_box_mean():
    side, batch = 64, 32
    img = quadrant_image(side)
    boxes = sample_crop_boxes(batch, (side, side), scale=(0.25, 0.25), ratio=(1.0, 1.0), generator=gen(5))
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert torch.allclose(w, torch.full((batch,), 32.0)) and torch.allclose(h, w)
    assert torch.all(boxes[:, :2] >= 0) and torch.all(boxes[:, 2:] <= side + 1e-4)
    assert boxes[:, 0].std() > 1.0 and not torch.allclose(boxes[:, 0], boxes[:, 1])  # own x, y per sample
    out = random_resized_crop(img.expand(batch, -1, -1, -1), 32, scale=(0.25, 0.25), ratio=(1.0, 1.0),
                              generator=gen(5))
    # expected mean: the quadrant values weighted by the box's overlap with each quadrant
    fx = ((side / 2 - boxes[:, 0]) / w).clamp(0, 1)  # fraction of the box left of the centre line
    fy = ((side / 2 - boxes[:, 1]) / h).clamp(0, 1)
    expected = 0.1 * fx * fy + 0.4 * (1 - fx) * fy + 0.7 * fx * (1 - fy) + 1.0 * (1 - fx) * (1 - fy)
    assert torch.allclose(out.mean(dim=(1, 2, 3)), expected, atol=1e-3)


def test_crop_boxes_respect_scale_and_ratio():
    boxes = sample_crop_boxes(256, (30, 40), scale=(0.2, 0.6), ratio=(0.5, 2.0), generator=gen())
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = w * h / (30 * 40)
    assert torch.all(area >= 0.2 - 1e-4) and torch.all(area <= 0.6 + 1e-4)
    assert torch.all(w / h >= 0.5 - 1e-4) and torch.all(w / h <= 2.0 + 1e-4)
    assert torch.all(boxes[:, :2] >= 0) and torch.all(boxes[:, 2] <= 40 + 1e-4) and torch.all(boxes[:, 3] <= 30 + 1e-4)


# -------------------------------------------------------------------------------------------- pipeline
@pytest.mark.parametrize("shape,size", [((8, 1, 28, 28), 28), ((8, 3, 32, 32), 32)])
def test_pipeline_shapes_values_dtypes(shape, size):
    images = torch.rand(*shape, generator=gen(11))
    aug = ImageAugmentation(AugmentConfig(size=size))
    out = aug(images, gen())
    assert out.shape == (shape[0], shape[1], size, size) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.min() >= -1.0 - 1e-5 and out.max() <= 1.0 + 1e-5  # [0, 1] normalised with 0.5 / 0.5
    half = aug(images.half(), gen())
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    reference = aug(images.half().float(), gen())
    assert torch.allclose(half.float(), reference, atol=2e-2)
    u8 = (images * 255).round().to(torch.uint8)
    assert torch.allclose(aug(u8, gen()), aug(u8.float() / 255, gen()))


def test_pipeline_all_ops_off_is_resize_and_normalize():
    images = rand_images(4, 3, 32, 32)
    cfg = AugmentConfig(size=32, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                        grayscale_p=0.0, blur_p=0.0, mean=(0.2, 0.3, 0.4), std=(0.5, 0.25, 2.0))
    out = ImageAugmentation(cfg)(images, gen())
    mean, std = torch.tensor(cfg.mean).view(1, 3, 1, 1), torch.tensor(cfg.std).view(1, 3, 1, 1)
    assert torch.allclose(out, (images - mean) / std, atol=1e-5)


def test_config_defaults_and_validation():
    cfg = AugmentConfig()
    assert cfg.jitter() == pytest.approx((0.4, 0.4, 0.4, 0.1))
    assert AugmentConfig(jitter_strength=1.0, hue=0.05).jitter() == pytest.approx((0.8, 0.8, 0.8, 0.05))
    assert cfg.kernel_size() == 3 and AugmentConfig(size=224).kernel_size() == 23
    for bad in ({"flip_p": 1.5}, {"crop_scale": (0.5, 0.1)}, {"blur_kernel_size": 4}, {"hue": 0.7}):
        with pytest.raises(ValueError):
            AugmentConfig(**bad)


def test_normalize_and_eval_transform():
    images = rand_images(2, 3, 8, 8)
    assert torch.allclose(normalize(images, (0.5,), (0.5,)), images * 2 - 1)
    with pytest.raises(ValueError):
        normalize(images, (0.1, 0.2), (1.0,))
    assert torch.allclose(eval_transform(images, 8, (0.5,), (0.5,)), images * 2 - 1)
    const = torch.full((2, 1, 28, 28), 0.25)
    out = eval_transform(const, 32, (0.0,), (1.0,))
    assert out.shape == (2, 1, 32, 32) and torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    u8 = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert torch.allclose(eval_transform(u8, 16, (0.5,), (0.5,)), torch.ones(2, 1, 16, 16), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_generator_device():
    images = rand_images(4, 3, 32, 32).cuda()
    aug = ImageAugmentation(AugmentConfig(size=24))
    cpu_gen = aug(images, gen(3))  # generator on CPU, images on GPU
    assert cpu_gen.device.type == "cuda"
    assert torch.equal(cpu_gen, aug(images, gen(3)))
    cuda_gen = aug(images, torch.Generator(device="cuda").manual_seed(3))
    assert cuda_gen.device.type == "cuda" and torch.isfinite(cuda_gen).all()


# -------------------------------------------------------------------------------------------- solarize
def test_solarize_inverts_exactly_the_pixels_at_or_above_threshold():
    images = rand_images(8)
    images[:, :, 0, 0] = 0.5  # at the threshold: inverted, as BYOL's x < 0.5 ? x : 1 - x
    for threshold in (0.5, 0.3):
        out = solarize(images, threshold, p=1.0, generator=gen())
        above = images >= threshold
        assert above.any() and (~above).any()
        assert torch.equal(out[above], 1.0 - images[above])
        assert torch.equal(out[~above], images[~above])
    assert torch.equal(solarize(images, p=0.0, generator=gen()), images)
    same = rand_images(1).expand(64, -1, -1, -1).contiguous()
    out = solarize(same, p=0.5, generator=gen())
    inverted = (out == solarize(same, p=1.0, generator=gen())).flatten(1).all(1)
    kept = (out == same).flatten(1).all(1)
    assert torch.all(inverted ^ kept) and 10 < int(inverted.sum()) < 54  # per-sample coin


# -------------------------------------------------------------------------------------------- rotation
def test_rotate_zero_is_identity_and_quarter_turns_match_rot90():
    images = rand_images(4, 3, 17, 17)
    assert torch.allclose(rotate(images, torch.zeros(4)), images, atol=1e-5)
    for k, degrees in ((1, 90.0), (2, 180.0), (3, 270.0), (3, -90.0), (1, -270.0)):
        expected = torch.rot90(images, k, dims=(-2, -1))  # counter-clockwise as displayed
        assert torch.allclose(rotate(images, torch.full((4,), degrees)), expected, atol=1e-5)
    per_sample = rotate(images, torch.tensor([0.0, 90.0, 180.0, 270.0]))
    assert torch.allclose(per_sample, rotate90(images, torch.tensor([0, 1, 2, 3])), atol=1e-5)
    assert torch.equal(rotate90(images, torch.tensor([0, 1, 2, 3]))[1], torch.rot90(images[1], 1, dims=(-2, -1)))
    half = rotate(images.half(), torch.full((4,), 90.0))
    assert half.dtype == torch.float16 and torch.allclose(half.float(), torch.rot90(images, 1, (-2, -1)), atol=1e-3)


def test_rotate_is_rigid_and_fills_zeros():
    rect = torch.rand(2, 1, 6, 10, generator=gen())
    back = rotate(rotate(rect, torch.full((2,), 90.0)), torch.full((2,), -90.0))
    assert torch.allclose(back[..., 2:8], rect[..., 2:8], atol=1e-5)  # the centred 6x6 square survives
    assert back[..., :1].abs().max() < 1e-5 and back[..., -1:].abs().max() < 1e-5  # the rest is zero fill
    ones = torch.ones(1, 1, 32, 32)
    corners = rotate(ones, torch.tensor([45.0]))
    assert corners[0, 0, 0, 0] == 0 and corners[0, 0, 16, 16] == pytest.approx(1.0)


def blob_angles(out: torch.Tensor, side: int) -> torch.Tensor:
    """Counter-clockwise angle (degrees) of each image's intensity centroid about the centre (y points down)."""
    coords = torch.arange(side, dtype=torch.float32) + 0.5 - side / 2
    mass = out[:, 0]
    x = (mass.sum(1) * coords).sum(1) / mass.sum((1, 2))
    y = (mass.sum(2) * coords).sum(1) / mass.sum((1, 2))
    return torch.rad2deg(torch.atan2(-y, x))


def test_random_rotation_angles_per_sample_within_range():
    side, batch, degrees = 33, 128, 30.0
    coords = torch.arange(side, dtype=torch.float32) + 0.5 - side / 2
    blob = torch.exp(-((coords.view(1, -1) - 10) ** 2 + coords.view(-1, 1) ** 2) / 4.0)  # right of centre
    images = blob.expand(batch, 1, side, side).contiguous()
    assert blob_angles(images[:1], side).abs().item() < 1e-3
    angles = blob_angles(random_rotation(images, degrees, p=1.0, generator=gen(4)), side)
    assert angles.abs().max() <= degrees + 0.5
    assert angles.std() > 12 and angles.min() < -20 and angles.max() > 20  # ~U[-30, 30], own angle per sample
    out = random_rotation(images, degrees, p=0.5, generator=gen(4))
    kept = (out == images).flatten(1).all(1)
    assert 30 < int(kept.sum()) < 98  # untouched samples are bit-exact
    assert torch.equal(random_rotation(images, degrees, p=0.0, generator=gen()), images)


def test_pipeline_new_ops_and_their_config():
    images = rand_images(6, 3, 16, 16)
    off = dict(size=16, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, grayscale_p=0.0,
               blur_p=0.0, mean=(0.0,), std=(1.0,))
    plain = ImageAugmentation(AugmentConfig(**off))(images, gen())
    solar = ImageAugmentation(AugmentConfig(**off, solarize_p=1.0, solarize_threshold=0.4))(images, gen())
    assert torch.allclose(solar, torch.where(plain >= 0.4, 1 - plain, plain), atol=1e-6)
    rotated = ImageAugmentation(AugmentConfig(**off, rotation_p=1.0, rotation_degrees=90.0))(images, gen())
    assert changed(rotated, plain).all()
    # defaults leave both off and draw nothing for them: the same seed gives the same views as the SimCLR
    # chain without them
    cfg = AugmentConfig(size=12)
    assert cfg.solarize_p == 0 and cfg.rotation_p == 0
    g = gen(2)
    x = random_resized_crop(images, 12, cfg.crop_scale, cfg.crop_ratio, g)
    x = gaussian_blur(random_grayscale(color_jitter(random_horizontal_flip(x, 0.5, g), generator=g), 0.2, g), 3,
                      generator=g)
    assert torch.equal(ImageAugmentation(cfg)(images, gen(2)), normalize(x, (0.5,), (0.5,)))
    for bad in ({"solarize_p": 1.5}, {"solarize_threshold": -0.1}, {"rotation_p": 0.5},
                {"rotation_degrees": 200.0}, {"rotation_p": -1.0, "rotation_degrees": 10.0}):
        with pytest.raises(ValueError):
            AugmentConfig(**bad)
