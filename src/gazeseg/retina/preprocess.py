"""Fundus preprocessing: field of view, green channel, illumination and contrast normalisation.

All sizes scale with the field-of-view diameter (``FundusView.unit`` = FOV diameter / 1000 px), so
the same rules work on a 1000 px CHASE_DB1 image and a 4288 px IDRiD photograph.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.errors import InputError


@dataclass
class FundusView:
    """One fundus image prepared for analysis at ``scale`` of the original size."""

    rgb: np.ndarray
    scale: float
    fov: np.ndarray
    green: np.ndarray
    """CLAHE-enhanced green channel (uint8), the channel where lesions and vessels show best."""
    dark: np.ndarray
    """Darkness against the local background (float32 >= 0): lesions and vessels are positive."""
    unit: float
    """FOV diameter / 1000 at this scale: multiply sizes by it."""


def fov_mask(rgb: np.ndarray) -> np.ndarray:
    """The bright disc of the fundus camera's field of view (largest component, holes filled)."""
    red = cv2.GaussianBlur(rgb[..., 0], (0, 0), 2)
    mask = red > max(15, 0.1 * float(np.percentile(red, 99)))
    labels, n = ndi.label(mask)
    if n == 0:
        raise InputError("fundus: no field of view found (image too dark?); expected a colour fundus photograph")
    sizes = ndi.sum(mask, labels, range(1, n + 1))
    mask = ndi.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    erode = max(1, int(0.01 * np.sqrt(mask.sum())))
    return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=erode).astype(bool)


def prepare(rgb: np.ndarray, *, analysis_width: int = 1400) -> FundusView:
    """Downscale to ``analysis_width`` (lesion detection does not need 4288 px), FOV, CLAHE green, darkness."""
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise InputError(f"fundus: expected a colour (H, W, 3) image, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb[..., :3])
    scale = min(1.0, analysis_width / rgb.shape[1])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    fov = fov_mask(small)
    diameter = 2 * np.sqrt(fov.sum() / np.pi)
    unit = diameter / 1000.0
    green = small[..., 1].copy()
    green[~fov] = int(np.median(green[fov]))  # no dark rim artefacts at the FOV edge
    tiles = max(2, int(round(8 * small.shape[1] / 1000)))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(tiles, tiles)).apply(green)
    k = int(round(25 * unit)) | 1
    background = cv2.medianBlur(clahe, max(3, k))
    dark = np.clip(background.astype(np.float32) - clahe.astype(np.float32), 0, None)
    dark[~fov] = 0
    return FundusView(small, scale, fov, clahe, dark, unit)
