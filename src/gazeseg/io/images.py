"""Image loading: any common format, 8/16-bit, gray or colour; bounded size; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError

#: Largest image accepted, in pixels (a decompression-bomb guard). 20000x20000 would be 400 MP.
MAX_PIXELS = 200_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def load_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image as stored: (H, W) or (H, W, 3|4), uint8 or uint16.

    Raises ``FileNotFoundError`` for a missing file and ``InputError`` for an unreadable,
    corrupt or too large one (checked from the header, before decoding).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image: no file at '{path}'; check the path")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise InputError(
                    f"image '{path.name}': {w}x{h} = {w * h / 1e6:.0f} MP exceeds the limit of "
                    f"{max_pixels / 1e6:.0f} MP; downscale it or raise max_pixels"
                )
            img.load()
            array = _pil_to_array(img)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(
            f"image '{path.name}': cannot be decoded ({error}); expected a PNG, JPEG, TIFF or BMP file"
        ) from error
    except Image.DecompressionBombError as error:  # pragma: no cover - PIL's own guard
        raise InputError(f"image '{path.name}': too large to open safely ({error})") from error
    return array


def _pil_to_array(img) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.uint16)
    if mode in ("I", "F"):
        array = np.asarray(img)
        return array.astype(np.float32)
    if mode in ("1", "L", "P", "LA", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
        if mode in ("P", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
            img = img.convert("RGBA" if "A" in mode else "RGB")
        elif mode == "1":
            img = img.convert("L")
        elif mode == "LA":
            img = img.convert("L")
    return np.asarray(img)


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any (H, W[, 1|3|4]) image of any numeric dtype to RGB uint8 (H, W, 3).

    Integer images wider than 8 bits and float images are min-max stretched (robust 0.5-99.5
    percentiles), since 16-bit medical images rarely use their full range.
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise InputError(f"image: expected a 2D (H, W) or (H, W, C) array, got shape {array.shape}")
    if array.ndim == 3:
        if array.shape[2] == 1:
            array = array[:, :, 0]
        elif array.shape[2] == 4:
            array = array[:, :, :3]
        elif array.shape[2] != 3:
            raise InputError(f"image: expected 1, 3 or 4 channels, got {array.shape[2]}")
    if array.dtype != np.uint8:
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        else:
            values = array.astype(np.float32)
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                raise InputError("image: every pixel is NaN or infinite")
            lo, hi = np.percentile(finite, [0.5, 99.5])
            if hi <= lo:
                lo, hi = float(finite.min()), float(finite.max()) + 1e-6
            values = np.nan_to_num(values, nan=lo)
            array = np.clip((values - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


def load_mask(path: str | Path, *, threshold: int = 127) -> np.ndarray:
    """A binary mask file (PNG/JPEG/BMP; any non-zero after thresholding is foreground) as bool (H, W)."""
    array = load_image(path)
    if array.ndim == 3:
        array = array[:, :, :3].max(axis=2)
    return array > threshold


def save_mask(mask: np.ndarray, path: str | Path) -> Path:
    """Write a bool (H, W) mask as an 8-bit PNG of 0 and 255 (what most tools read)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255).save(path)
    return path


def overlay(image_rgb: np.ndarray, mask: np.ndarray, *, color=(30, 144, 255), alpha: float = 0.45,
            points_xy: np.ndarray | None = None, labels: np.ndarray | None = None) -> np.ndarray:
    """The image with the mask tinted and outlined, and prompt points drawn (green +, red -)."""
    import cv2

    out = to_rgb_uint8(image_rgb).copy()
    m = np.asarray(mask, bool)
    tint = np.array(color, np.float32)
    out[m] = (out[m] * (1 - alpha) + tint * alpha).astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), thickness)
    if points_xy is not None:
        labels = np.ones(len(points_xy), int) if labels is None else labels
        radius = max(3, round(max(out.shape[:2]) / 150))
        for (x, y), label in zip(np.asarray(points_xy).reshape(-1, 2), labels):
            c = (0, 220, 0) if label == 1 else (230, 0, 0)
            cv2.circle(out, (int(x), int(y)), radius, c, -1)
            cv2.circle(out, (int(x), int(y)), radius, (255, 255, 255), 1)
    return out


def save_image(image: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_rgb_uint8(image)).save(path)
    return path
