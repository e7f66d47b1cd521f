"""SAM's low-resolution mask convention: logits resized to 256 on the long side, padded."""

from __future__ import annotations

import cv2
import numpy as np

LOW_RES = 256


def to_low_res(prob: np.ndarray) -> np.ndarray:
    """(H, W) foreground probability in [0, 1] -> (256, 256) float32 logits, padded bottom/right."""
    h, w = prob.shape
    scale = LOW_RES / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(prob.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    p = np.clip(small, 1e-4, 1 - 1e-4)
    out = np.full((LOW_RES, LOW_RES), -20.0, np.float32)
    out[:nh, :nw] = np.log(p / (1 - p))
    return out


def from_low_res(logits: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(256, 256) logits -> (H, W) bool mask for an image of size ``hw`` (inverse of ``to_low_res``)."""
    h, w = hw
    scale = LOW_RES / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    crop = np.asarray(logits, np.float32)[:nh, :nw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR) > 0
