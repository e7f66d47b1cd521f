"""Duration-weighted gaze heat maps (the "gaze map" of GlanceSeg)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation


def gaze_heatmap(fixations: Sequence[Fixation], image_hw: tuple[int, int], *, sigma_px: float) -> np.ndarray:
    """Sum of Gaussians at fixation centres weighted by duration, normalised to max 1 (float32).

    ``sigma_px`` usually comes from degrees (``sigma_deg * px_per_deg``): about 1 degree covers
    the fovea plus a good tracker's error. Fixations outside the image contribute nothing.
    """
    h, w = image_hw
    if not sigma_px > 0:
        raise InputError(f"sigma_px: expected a positive width in pixels, got {sigma_px!r}")
    impulses = np.zeros((h, w), np.float32)
    for f in fixations:
        c, r = int(round(f.x)), int(round(f.y))
        if 0 <= r < h and 0 <= c < w and np.isfinite(f.x) and np.isfinite(f.y):
            impulses[r, c] += max(f.duration_s, 1e-3)
    if not impulses.any():
        return impulses
    heat = cv2.GaussianBlur(impulses, (0, 0), sigmaX=float(sigma_px), borderType=cv2.BORDER_CONSTANT)
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat
