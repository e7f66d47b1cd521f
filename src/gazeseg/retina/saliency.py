"""Microaneurysm saliency: small, dark, round, not a vessel.

Dark top-hat (everything darker than its surroundings and smaller than ~2x an MA) minus the
vessel response (linear structures), then a difference of Gaussians tuned to MA radii, which
rewards compact blobs. Computed at analysis resolution.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.feature import peak_local_max

from gazeseg.retina.preprocess import FundusView


def ma_saliency(view: FundusView, vessel_response: np.ndarray) -> np.ndarray:
    u = view.unit
    inverted = (255 - view.green).astype(np.uint8)
    radius = max(2, int(round(9 * u)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    tophat = cv2.morphologyEx(inverted, cv2.MORPH_TOPHAT, disc).astype(np.float32)
    blobs = np.clip(tophat - vessel_response, 0, None)
    s1, s2 = max(0.6, 2.0 * u), max(1.5, 5.0 * u)
    dog = cv2.GaussianBlur(blobs, (0, 0), s1) - cv2.GaussianBlur(blobs, (0, 0), s2)
    dog = np.clip(dog, 0, None)
    dog[~view.fov] = 0
    peak = float(np.percentile(dog[view.fov], 99.9)) + 1e-6
    return np.clip(dog / peak, 0, 1).astype(np.float32)


def salient_points(saliency: np.ndarray, region: np.ndarray, *, unit: float, threshold: float = 0.15, max_points: int = 400) -> np.ndarray:
    """(N, 3) x, y, value of local saliency maxima inside ``region`` (analysis px), strongest first."""
    masked = np.where(region, saliency, 0)
    peaks = peak_local_max(masked, min_distance=max(2, int(round(6 * unit))), threshold_abs=threshold, num_peaks=max_points)
    if len(peaks) == 0:
        return np.zeros((0, 3))
    values = masked[peaks[:, 0], peaks[:, 1]]
    return np.column_stack([peaks[:, 1], peaks[:, 0], values]).astype(float)
