"""Joint augmentation of an image and its label maps (random scale, crop and flip), colour jitter,
and an image's superpixels (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb


def to_chw(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 3xHxW float32 in [0, 1]; each network normalises it for its encoder
    (`wsps.models.weights.input_normalisation`)."""
    return (image.astype(np.float32) / 255).transpose(2, 0, 1)


def working_size(height: int, width: int, max_side: int | None) -> tuple[int, int] | None:
    """(rows, cols) of a copy shrunk so that its longer side is at most `max_side`, or None when
    the image is already small enough (or `max_side` is null): slow per-pixel steps run on it."""
    if not max_side or max(height, width) <= max_side:
        return None
    factor = max_side / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def superpixels(
    image: np.ndarray, scale: float, sigma: float, min_size: int, max_side: int | None = None
) -> np.ndarray:
    """Felzenszwalb segments (H, W, int32) of an RGB image (H, W, 3, uint8), computed on a copy
    shrunk so that its longer side is at most `max_side` (Felzenszwalb's cost grows with the pixel
    count) and enlarged back."""
    height, width = image.shape[:2]
    size = working_size(height, width, max_side)
    small = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA) if size else image
    segments = felzenszwalb(small, scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1).astype(np.int32)
    return cv2.resize(segments, (width, height), interpolation=cv2.INTER_NEAREST) if size else segments


def resize(image: np.ndarray, maps: Sequence[np.ndarray], size: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Image bilinear, label maps nearest, to `size` = (rows, cols)."""
    dsize = (size[1], size[0])
    image = cv2.resize(image, dsize, interpolation=cv2.INTER_LINEAR)
    return image, [cv2.resize(m, dsize, interpolation=cv2.INTER_NEAREST) for m in maps]


def random_scale_crop_flip(
    rng: np.random.Generator,
    image: np.ndarray,
    maps: Sequence[np.ndarray],
    pads: Sequence[int],
    crop_size: Sequence[int],
    scale_range: Sequence[float] = (0.5, 2.0),
    flip: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Scale by a random factor, take a random `crop_size` window (padding the image with 0 and
    each map with its `pads` value where the scaled image is smaller), flip half the time."""
    scale = rng.uniform(*scale_range)
    height, width = image.shape[:2]
    size = (max(1, int(round(height * scale))), max(1, int(round(width * scale))))
    image, maps = resize(image, maps, size)
    crop_h, crop_w = crop_size
    pad_h, pad_w = max(0, crop_h - size[0]), max(0, crop_w - size[1])
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        maps = [
            cv2.copyMakeBorder(m, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=int(p)) for m, p in zip(maps, pads)
        ]
    y = int(rng.integers(0, image.shape[0] - crop_h + 1))
    x = int(rng.integers(0, image.shape[1] - crop_w + 1))
    window = (slice(y, y + crop_h), slice(x, x + crop_w))
    image, maps = image[window], [m[window] for m in maps]
    if flip and rng.random() < 0.5:
        image, maps = image[:, ::-1], [m[:, ::-1] for m in maps]
    return np.ascontiguousarray(image), [np.ascontiguousarray(m) for m in maps]


def cutmix_box(rng: np.random.Generator, shape: Sequence[int]) -> tuple[slice, slice]:
    """A CutMix rectangle (Yun et al., 2019) in an image of `shape` (rows, cols): its sides the
    image's times sqrt(1 - lam), lam ~ U(0, 1), around a uniformly drawn centre, clipped to the
    image (so it covers on average less than half of it)."""
    height, width = shape[:2]
    side = np.sqrt(1 - rng.uniform())
    h, w = int(round(height * side)), int(round(width * side))
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, x0 = max(0, cy - h // 2), max(0, cx - w // 2)
    return slice(y0, min(height, cy - h // 2 + h)), slice(x0, min(width, cx - w // 2 + w))


def colour_jitter(rng: np.random.Generator, image: np.ndarray, strength: float) -> np.ndarray:
    """Brightness, contrast and saturation each scaled by a factor drawn from [1 - strength,
    1 + strength], in a random order (torchvision's ColorJitter without hue), on an RGB uint8
    image; labels are unchanged. Strong augmentation of pseudo-labelled images."""
    out = image.astype(np.float32)
    for k in rng.permutation(3):
        factor = rng.uniform(1 - strength, 1 + strength)
        if k == 0:  # brightness
            out = out * factor
        elif k == 1:  # contrast: towards the mean grey
            grey = (out @ np.array([0.299, 0.587, 0.114], np.float32)).mean()
            out = grey + factor * (out - grey)
        else:  # saturation: towards each pixel's grey
            grey = (out @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            out = grey + factor * (out - grey)
        out = np.clip(out, 0, 255)
    return out.astype(np.uint8)
