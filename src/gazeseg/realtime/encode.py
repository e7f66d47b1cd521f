"""Mask encodings for the browser: PNG (any viewer) and row-major run lengths (tiny, trivial to decode)."""

from __future__ import annotations

import numpy as np

from gazeseg.core.errors import InputError


def _check(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"mask: expected a 2-D (rows, cols) array, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def mask_to_png(mask: np.ndarray) -> bytes:
    """1-bit-looking 8-bit PNG (0 background, 255 object); fast compression level for live use."""
    import cv2

    ok, buf = cv2.imencode(".png", _check(mask).astype(np.uint8) * 255, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV fails only on empty arrays, rejected above
        raise InputError("mask: PNG encoding failed; expected a non-empty 2-D mask")
    return bytes(buf)


def mask_to_rle(mask: np.ndarray) -> dict[str, object]:
    """Row-major run lengths starting with a background run: ``{"size": [h, w], "counts": [...]}``.

    Unlike COCO RLE (column-major, compressed strings) a browser decodes this with one loop.
    """
    m = _check(mask)
    flat = m.reshape(-1)
    if flat.size == 0:
        return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": []}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": counts}


def rle_to_mask(rle: dict[str, object]) -> np.ndarray:
    """Inverse of ``mask_to_rle``."""
    h, w = (int(v) for v in rle["size"])  # type: ignore[union-attr]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != h * w:
        raise InputError(f"rle: expected run lengths summing to {h * w}, got {int(counts.sum())}; pass what mask_to_rle made")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape(h, w)
