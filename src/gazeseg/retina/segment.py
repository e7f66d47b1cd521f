"""Microaneurysm masks at native resolution: the dark blob's extent at half its local contrast.

Why not the engine: a microaneurysm is a 10-25 px dark disc with a blurred edge. GrabCut (the
classic engine) fits colour models to a crop in which the lesion is a few hundred pixels, and its
masks spill over the background; SAM sees the same crop at 1/40 of its field. The lesion's own
profile defines its extent better: darkness against the crop's background, and the connected
region around the darkest point that is at least half as dark (the full width at half maximum,
the usual size definition of a blurred spot, independent of the spot's absolute contrast).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi


@dataclass
class BlobMask:
    mask: np.ndarray
    """Bool (h, w) of the crop: pixels at least ``level`` x the peak darkness, connected to the peak."""
    darkness: np.ndarray
    """Float32 (h, w): background minus the smoothed green channel (grey levels, >= 0)."""
    peak: float
    """Darkness at the blob's darkest point (grey levels)."""
    peak_rc: tuple[int, int]


def blob_mask(green_crop: np.ndarray, point_xy: tuple[float, float], *, unit_px: float, level: float = 0.5, search_units: float = 2.5) -> BlobMask:
    """Segment the dark blob nearest ``point_xy`` (crop px, (x, y)) in a full-resolution green crop.

    ``unit_px``: pixels per FOV/1000 unit at the crop's resolution. The background is the crop's
    median (the crop is ~24 units, mostly background); the darkness is smoothed at ~0.4 units to
    ignore JPEG noise; the darkest point within ``search_units`` of the prompt is the blob's centre.
    """
    g = cv2.GaussianBlur(green_crop.astype(np.float32), (0, 0), max(0.5, 0.4 * unit_px))
    darkness = np.clip(float(np.median(g)) - g, 0, None)
    h, w = darkness.shape
    x, y = point_xy
    r = max(1, int(round(search_units * unit_px)))
    r0, r1 = max(0, int(y) - r), min(h, int(y) + r + 1)
    c0, c1 = max(0, int(x) - r), min(w, int(x) + r + 1)
    window = darkness[r0:r1, c0:c1]
    if window.size == 0:
        return BlobMask(np.zeros((h, w), bool), darkness, 0.0, (int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))))
    i, j = np.unravel_index(int(np.argmax(window)), window.shape)
    pr, pc = r0 + int(i), c0 + int(j)
    peak = float(darkness[pr, pc])
    if peak <= 0:
        return BlobMask(np.zeros((h, w), bool), darkness, 0.0, (pr, pc))
    labels, _ = ndi.label(darkness >= level * peak)
    return BlobMask(labels == labels[pr, pc], darkness, peak, (pr, pc))
