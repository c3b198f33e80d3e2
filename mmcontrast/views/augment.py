"""Batched, seeded image augmentations for SimCLR-style views (Chen et al. 2020, "A Simple Framework for
Contrastive Learning of Visual Representations").

Every op works on a whole batch of float images (B, C, H, W) in [0, 1] (C = 1 or 3) on any device, with
per-sample random parameters (own crop box, own jitter factors, own coin flips) and no Python loop over
samples. All randomness comes from the ``generator`` argument (drawn on the generator's device, then moved
to the images' device), so a seeded generator reproduces the output exactly. Semantics follow torchvision's
``RandomResizedCrop``, ``RandomHorizontalFlip``, ``RandomRotation``, ``ColorJitter``, ``RandomGrayscale``,
``GaussianBlur`` and ``RandomSolarize`` (BYOL, Grill et al. 2020); the differences are noted where they occur
(continuous crop boxes, fixed jitter order). Half-precision input is computed in float32 and cast back.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Sequence, TypeVar

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
_F = TypeVar("_F", bound=Callable[..., Tensor])
_LOW_PRECISION = (torch.float16, torch.bfloat16)
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as torchvision's rgb_to_grayscale
_CROP_ATTEMPTS = 10  # as torchvision's RandomResizedCrop.get_params


# ----------------------------------------------------------------------------------------------- helpers
def _float32_compute(fn: _F) -> _F:
    """Run ``fn(images, ...)`` in float32 when ``images`` is float16/bfloat16 and cast the result back."""

    @functools.wraps(fn)
    def wrapper(images: Tensor, *args, **kwargs) -> Tensor:
        if images.dtype in _LOW_PRECISION:
            return fn(images.float(), *args, **kwargs).to(images.dtype)
        return fn(images, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _check(images: Tensor, what: str) -> tuple[int, int, int, int]:
    if images.dim() != 4 or not images.is_floating_point():
        raise TypeError(f"{what}: expected float images (B, C, H, W), got {images.dtype} {tuple(images.shape)}; "
                        "use to_float_images first")
    return tuple(images.shape)  # type: ignore[return-value]


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """float32 U[0, 1) drawn from ``generator`` on its own device, returned on ``device``."""
    draw_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=draw_device, dtype=torch.float32).to(device)


def _uniform(u: Tensor, low: float, high: float) -> Tensor:
    return low + (high - low) * u


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _per_sample(mask: Tensor) -> Tensor:
    return mask.view(-1, 1, 1, 1)


# ------------------------------------------------------------------------------------------ conversions
def to_float_images(images: Tensor) -> Tensor:
    """uint8 (B, C, H, W) or (B, H, W) -> float32 (B, C, H, W) in [0, 1]; float input passes through
    (a missing channel axis is added)."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W) or (B, H, W), got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    if not images.is_floating_point():
        raise TypeError(f"expected uint8 or float images, got {images.dtype}")
    return images


def rgb_to_grayscale(images: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B."""
    r, g, b = images.unbind(1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def rgb_to_hsv(images: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) HSV, all channels in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = images.unbind(1)
    maxc, minc = images.amax(1), images.amin(1)
    delta = maxc - minc
    sat = delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc))
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, torch.remainder(hue / 6.0, 1.0), torch.zeros_like(hue))
    return torch.stack((hue, sat, maxc), dim=1)


def hsv_to_rgb(images: Tensor) -> Tensor:
    """(B, 3, H, W) HSV -> RGB, closed form: channel n in (5, 3, 1) is v - v s clamp(min(k, 4 - k), 0, 1),
    k = (n + 6 h) mod 6."""
    hue, sat, val = images.unbind(1)
    n = torch.tensor((5.0, 3.0, 1.0), dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * hue.unsqueeze(1), 6.0)
    weight = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return val.unsqueeze(1) - (val * sat).unsqueeze(1) * weight


# ------------------------------------------------------------------------------------------------- crop
def sample_crop_boxes(
    batch: int,
    image_size: tuple[int, int],
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Per-sample RandomResizedCrop boxes (B, 4) as (x0, y0, x1, y1) in pixel-edge coordinates.

    As torchvision: up to 10 attempts of area fraction ~ U(scale) and log-uniform aspect ratio w/h in
    ``ratio``; the first box that fits the image is placed uniformly at random, else a centred crop of the
    whole image with its ratio clamped to ``ratio``. Unlike torchvision the box is not rounded to pixels.
    """
    height, width = image_size
    device = torch.device(device)
    t = _CROP_ATTEMPTS
    u = _rand((batch, 2 * t + 2), generator, device)
    area = height * width * _uniform(u[:, :t], *scale)
    aspect = torch.exp(_uniform(u[:, t:2 * t], math.log(ratio[0]), math.log(ratio[1])))
    w, h = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
    fits = (w <= width * (1 + 1e-6)) & (h <= height * (1 + 1e-6))
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first fitting attempt
    any_fit = fits.any(dim=1)
    in_ratio = width / height
    fw, fh = float(width), float(height)
    if in_ratio < ratio[0]:
        fh = width / ratio[0]
    elif in_ratio > ratio[1]:
        fw = height * ratio[1]
    w = torch.where(any_fit, w.gather(1, first).squeeze(1), torch.full_like(any_fit, fw, dtype=w.dtype))
    h = torch.where(any_fit, h.gather(1, first).squeeze(1), torch.full_like(any_fit, fh, dtype=h.dtype))
    w, h = w.clamp(max=width), h.clamp(max=height)
    pos_x = torch.where(any_fit, u[:, 2 * t], torch.full_like(w, 0.5))
    pos_y = torch.where(any_fit, u[:, 2 * t + 1], torch.full_like(h, 0.5))
    x0, y0 = pos_x * (width - w), pos_y * (height - h)
    return torch.stack((x0, y0, x0 + w, y0 + h), dim=1)


@_float32_compute
def resized_crop(images: Tensor, boxes: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Crop each image (B, C, H, W) to its box (B, 4) (x0, y0, x1, y1 in pixel-edge coordinates) and resize
    to ``size`` with one affine ``grid_sample`` (bilinear, align_corners=False) -> (B, C, size_h, size_w)."""
    b, c, height, width = _check(images, "resized_crop")
    out_h, out_w = _pair(size)
    boxes = boxes.to(device=images.device, dtype=images.dtype)
    x0, y0, x1, y1 = boxes.unbind(1)
    theta = torch.zeros(b, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = (x1 - x0) / width
    theta[:, 0, 2] = (x0 + x1) / width - 1.0
    theta[:, 1, 1] = (y1 - y0) / height
    theta[:, 1, 2] = (y0 + y1) / height - 1.0
    grid = F.affine_grid(theta, [b, c, out_h, out_w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(
    images: Tensor,
    size: int | tuple[int, int],
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """torchvision RandomResizedCrop per sample: (B, C, H, W) -> (B, C, size_h, size_w)."""
    b, _, height, width = _check(images, "random_resized_crop")
    boxes = sample_crop_boxes(b, (height, width), scale, ratio, generator, images.device)
    return resized_crop(images, boxes, size)


# ------------------------------------------------------------------------------------------------- flip
def random_horizontal_flip(images: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image (B, C, H, W) left-right with probability ``p`` -> (B, C, H, W)."""
    _check(images, "random_horizontal_flip")
    flip = _rand((images.shape[0],), generator, images.device) < p
    if p <= 0:
        return images
    return torch.where(_per_sample(flip), images.flip(-1), images)


# --------------------------------------------------------------------------------------------- rotation
@_float32_compute
def rotate(images: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image (B, C, H, W) counter-clockwise (as displayed, like torchvision's ``rotate``) about
    its centre by ``degrees[i]`` (B,) -> (B, C, H, W), one batched ``affine_grid`` + bilinear ``grid_sample``
    (align_corners=False); corners that come from outside the image are filled with 0.

    The matrix maps each output location to where it is read in the input, in normalised coordinates
    corrected for the aspect ratio so that non-square images rotate rigidly. On a square image a multiple of
    90 degrees reads pixel centres exactly, so it equals ``torch.rot90`` up to float rounding.
    """
    b, c, height, width = _check(images, "rotate")
    angle = torch.deg2rad(degrees.to(device=images.device, dtype=images.dtype))
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * (height / width)
    theta[:, 1, 0], theta[:, 1, 1] = sin * (width / height), cos
    grid = F.affine_grid(theta, [b, c, height, width], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_rotation(
    images: Tensor, degrees: float = 30.0, p: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """torchvision RandomRotation per sample, with probability ``p``: angle_i ~ U[-degrees, degrees],
    bilinear, zero fill (see ``rotate``) -> (B, C, H, W). Samples not drawn are returned bit-exact."""
    b, _, _, _ = _check(images, "random_rotation")
    u = _rand((b, 2), generator, images.device)
    if p <= 0 or degrees == 0:
        return images
    rotated = rotate(images, _uniform(u[:, 1], -degrees, degrees))
    return torch.where(_per_sample(u[:, 0] < p), rotated, images)


def rotate90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate each square image (B, C, S, S) counter-clockwise by ``k[i]`` (B,) quarter turns, exactly
    (``torch.rot90`` over dims (H, W)), batched by selecting among the four rotations -> (B, C, S, S)."""
    _, _, height, width = _check(images, "rotate90")
    if height != width:
        raise ValueError(f"rotate90: needs square images, got {height}x{width}")
    k = torch.remainder(k.to(device=images.device, dtype=torch.long), 4)
    turns = torch.stack([torch.rot90(images, q, dims=(-2, -1)) for q in range(4)])  # (4, B, C, S, S)
    return turns[k, torch.arange(images.shape[0], device=images.device)]


# ------------------------------------------------------------------------------------------ colour jitter
def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """clamp(f_i x, 0, 1) with per-sample factors ``factor`` (B,)."""
    return (images * _per_sample(factor)).clamp(0.0, 1.0)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """clamp(f_i x + (1 - f_i) m_i, 0, 1), m_i the mean grayscale value of image i."""
    gray = rgb_to_grayscale(images) if images.shape[1] == 3 else images
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    f = _per_sample(factor)
    return (f * images + (1.0 - f) * mean).clamp(0.0, 1.0)


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """RGB (B, 3, H, W): clamp(f_i x + (1 - f_i) gray(x), 0, 1)."""
    f = _per_sample(factor)
    return (f * images + (1.0 - f) * rgb_to_grayscale(images)).clamp(0.0, 1.0)


def adjust_hue(images: Tensor, shift: Tensor) -> Tensor:
    """RGB (B, 3, H, W): rotate the hue of image i by ``shift[i]`` turns (in [-0.5, 0.5]) in HSV space."""
    hsv = rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, :1] + _per_sample(shift), 1.0)
    return hsv_to_rgb(torch.cat((hue, hsv[:, 1:]), dim=1)).clamp(0.0, 1.0)


@_float32_compute
def color_jitter(
    images: Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
    generator: torch.Generator | None = None,
) -> Tensor:
    """torchvision ColorJitter per sample, applied to each image (B, C, H, W) with probability ``p``.

    Factors are drawn per sample: brightness, contrast, saturation ~ U[max(0, 1 - s), 1 + s], hue shift
    ~ U[-hue, hue]. The order is fixed (brightness, contrast, saturation, hue) where torchvision permutes it.
    Grayscale images (C = 1) get brightness and contrast only.
    """
    b, c, _, _ = _check(images, "color_jitter")
    if c not in (1, 3):
        raise ValueError(f"color_jitter: expected 1 or 3 channels, got {c}")
    if not 0.0 <= hue <= 0.5:
        raise ValueError(f"color_jitter: hue must be in [0, 0.5], got {hue}")
    u = _rand((b, 5), generator, images.device)
    if p <= 0:
        return images
    out = images
    out = adjust_brightness(out, _uniform(u[:, 1], max(0.0, 1.0 - brightness), 1.0 + brightness))
    out = adjust_contrast(out, _uniform(u[:, 2], max(0.0, 1.0 - contrast), 1.0 + contrast))
    if c == 3:
        out = adjust_saturation(out, _uniform(u[:, 3], max(0.0, 1.0 - saturation), 1.0 + saturation))
        if hue > 0:
            out = adjust_hue(out, _uniform(u[:, 4], -hue, hue))
    return torch.where(_per_sample(u[:, 0] < p), out, images)


# -------------------------------------------------------------------------------------- grayscale, blur
def random_grayscale(images: Tensor, p: float = 0.2, generator: torch.Generator | None = None) -> Tensor:
    """With probability ``p`` per sample, replace RGB (B, 3, H, W) by its luma repeated on 3 channels;
    grayscale input (C = 1) is returned unchanged."""
    b, c, _, _ = _check(images, "random_grayscale")
    apply = _rand((b,), generator, images.device) < p
    if p <= 0 or c == 1:
        return images
    gray = rgb_to_grayscale(images).expand(-1, c, -1, -1)
    return torch.where(_per_sample(apply), gray, images)


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels (B, K) for per-sample ``sigma`` (B,), taps at -(K//2) .. K//2."""
    half = kernel_size // 2
    x = torch.linspace(-half, half, kernel_size, dtype=sigma.dtype, device=sigma.device)
    pdf = torch.exp(-0.5 * (x.unsqueeze(0) / sigma.unsqueeze(1)) ** 2)
    return pdf / pdf.sum(dim=1, keepdim=True)


@_float32_compute
def gaussian_blur(
    images: Tensor,
    kernel_size: int,
    sigma: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """torchvision GaussianBlur per sample, with probability ``p``: sigma_i ~ U(sigma), separable K x K kernel
    applied as two grouped convolutions (groups = B * C) over reflect padding -> (B, C, H, W)."""
    b, c, height, width = _check(images, "gaussian_blur")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"gaussian_blur: kernel_size must be a positive odd integer, got {kernel_size}")
    pad = kernel_size // 2
    if pad >= min(height, width):
        raise ValueError(f"gaussian_blur: kernel_size {kernel_size} too large for {height}x{width} images")
    u = _rand((b, 2), generator, images.device)
    if p <= 0 or kernel_size == 1:
        return images
    kernels = gaussian_kernels(_uniform(u[:, 1], *sigma).to(images.dtype), kernel_size)  # (B, K)
    weight = kernels.repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, K): one kernel per (sample, channel)
    x = F.pad(images.reshape(1, b * c, height, width), (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, weight.unsqueeze(2), groups=b * c)  # horizontal (1 x K)
    x = F.conv2d(x, weight.unsqueeze(3), groups=b * c)  # vertical (K x 1)
    blurred = x.view(b, c, height, width)
    return torch.where(_per_sample(u[:, 0] < p), blurred, images)


# --------------------------------------------------------------------------------------------- solarize
def solarize(
    images: Tensor, threshold: float = 0.5, p: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """BYOL's solarisation (Grill et al. 2020, appendix B), per sample with probability ``p``: every pixel
    value x >= ``threshold`` becomes 1 - x, the others are kept (torchvision's ``RandomSolarize`` on [0, 1]
    floats) -> (B, C, H, W)."""
    b, _, _, _ = _check(images, "solarize")
    apply = _rand((b,), generator, images.device) < p
    if p <= 0:
        return images
    inverted = torch.where(images >= threshold, 1.0 - images, images)
    return torch.where(_per_sample(apply), inverted, images)


def normalize(images: Tensor, mean: Sequence[float] | Tensor, std: Sequence[float] | Tensor) -> Tensor:
    """(x - mean) / std per channel; ``mean``/``std`` hold one value per channel or one for all."""
    c = images.shape[1]
    out = []
    for name, values in (("mean", mean), ("std", std)):
        t = torch.as_tensor(values, dtype=images.dtype, device=images.device).flatten()
        if t.numel() not in (1, c):
            raise ValueError(f"normalize: {name} has {t.numel()} values for {c} channels")
        out.append(t.view(1, -1, 1, 1))
    return (images - out[0]) / out[1]


# ------------------------------------------------------------------------------------------------ pipeline
@dataclasses.dataclass
class AugmentConfig:
    """SimCLR augmentation settings (Chen et al. 2020, appendix A).

    ``brightness``/``contrast``/``saturation``/``hue`` left as None follow the colour-distortion strength
    s = ``jitter_strength``: (0.8 s, 0.8 s, 0.8 s, 0.2 s), i.e. (0.4, 0.4, 0.4, 0.1) for s = 0.5.
    ``blur_kernel_size`` None is 10% of ``size`` rounded down, made odd (at least 3), as in SimCLR.
    Off by default: solarisation (BYOL, Grill et al. 2020: ``solarize_p`` 0 / 0.2 for its two views) and
    rotation by an angle in [-``rotation_degrees``, ``rotation_degrees``] with probability ``rotation_p``.
    """

    size: int | tuple[int, int] = 32
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_strength: float = 0.5
    brightness: float | None = None
    contrast: float | None = None
    saturation: float | None = None
    hue: float | None = None
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_kernel_size: int | None = None
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: float = 0.0
    solarize_threshold: float = 0.5
    rotation_p: float = 0.0
    rotation_degrees: float = 0.0
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        size = self.size if isinstance(self.size, (tuple, list)) else (self.size,)
        if not 1 <= len(size) <= 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
            raise ValueError(f"AugmentConfig.size must be a positive int (a square side) or [height, width] in pixels, "
                             f"got {self.size!r}")
        for name in ("jitter_strength", "brightness", "contrast", "saturation"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < float("inf"):
                raise ValueError(f"AugmentConfig.{name} must be a finite number >= 0, got {value}")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p", "solarize_threshold", "rotation_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("crop_scale", "crop_ratio", "blur_sigma"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high:
                raise ValueError(f"AugmentConfig.{name} must be (low, high) with 0 < low <= high, got {(low, high)}")
        if self.crop_scale[1] > 1.0:
            raise ValueError(f"AugmentConfig.crop_scale must lie in (0, 1], got {self.crop_scale}")
        if self.blur_kernel_size is not None and (self.blur_kernel_size < 1 or self.blur_kernel_size % 2 == 0):
            raise ValueError(f"AugmentConfig.blur_kernel_size must be odd and positive, got {self.blur_kernel_size}")
        if not 0.0 <= self.rotation_degrees <= 180.0:
            raise ValueError(f"AugmentConfig.rotation_degrees must be in [0, 180], got {self.rotation_degrees}")
        if self.rotation_p > 0 and self.rotation_degrees == 0:
            raise ValueError(f"AugmentConfig.rotation_p is {self.rotation_p} but rotation_degrees is 0: "
                             "set rotation_degrees (the largest angle) too")
        if not 0.0 <= self.jitter()[3] <= 0.5:
            raise ValueError(f"AugmentConfig.hue must be in [0, 0.5], got {self.jitter()[3]}")

    def jitter(self) -> tuple[float, float, float, float]:
        """(brightness, contrast, saturation, hue) with the ``jitter_strength`` defaults filled in."""
        s = self.jitter_strength
        values = (self.brightness, self.contrast, self.saturation, self.hue)
        defaults = (0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)
        return tuple(d if v is None else float(v) for v, d in zip(values, defaults))  # type: ignore[return-value]

    def kernel_size(self) -> int:
        """Blur kernel size: ``blur_kernel_size``, else 10% of the output side made odd (at least 3)."""
        if self.blur_kernel_size is not None:
            return self.blur_kernel_size
        k = max(3, int(0.1 * min(_pair(self.size))))
        return k if k % 2 else k + 1


class ImageAugmentation:
    """SimCLR view: to_float -> random resized crop -> flip -> [rotation] -> colour jitter -> grayscale -> blur
    -> [solarize] -> normalize.

    The bracketed ops run only when enabled (``rotation_p`` / ``solarize_p`` > 0): configs without them draw
    the same random numbers as before they existed, so a seed gives the same views.

    ``ImageAugmentation(cfg)(images, generator)``: uint8 or float (B, C, H, W) / (B, H, W) -> float
    (B, C, size, size), float16/bfloat16 kept (computed in float32), uint8 giving float32.
    """

    def __init__(self, cfg: AugmentConfig | None = None) -> None:
        self.cfg = cfg or AugmentConfig()

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        cfg = self.cfg
        images = to_float_images(images)
        x = images.float() if images.dtype in _LOW_PRECISION else images
        brightness, contrast, saturation, hue = cfg.jitter()
        x = random_resized_crop(x, cfg.size, cfg.crop_scale, cfg.crop_ratio, generator)
        x = random_horizontal_flip(x, cfg.flip_p, generator)
        if cfg.rotation_p > 0:
            x = random_rotation(x, cfg.rotation_degrees, cfg.rotation_p, generator)
        x = color_jitter(x, brightness, contrast, saturation, hue, cfg.jitter_p, generator)
        x = random_grayscale(x, cfg.grayscale_p, generator)
        x = gaussian_blur(x, cfg.kernel_size(), cfg.blur_sigma, cfg.blur_p, generator)
        if cfg.solarize_p > 0:
            x = solarize(x, cfg.solarize_threshold, cfg.solarize_p, generator)
        return normalize(x, cfg.mean, cfg.std).to(images.dtype)

    def __repr__(self) -> str:
        return f"ImageAugmentation({self.cfg})"


@_float32_compute
def _resize(images: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def eval_transform(
    images: Tensor,
    size: int | tuple[int, int],
    mean: Sequence[float] | Tensor = (0.5,),
    std: Sequence[float] | Tensor = (0.5,),
) -> Tensor:
    """Deterministic evaluation transform: to_float, resize to ``size`` (bilinear, antialiased) when needed,
    normalize -> (B, C, size_h, size_w)."""
    images = to_float_images(images)
    size = _pair(size)
    if tuple(images.shape[-2:]) != size:
        images = _resize(images, size)
    return normalize(images, mean, std)
