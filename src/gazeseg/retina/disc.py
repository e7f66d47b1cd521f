"""Optic disc localisation: the brightest large round region of the field of view."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gazeseg.retina.preprocess import FundusView


@dataclass(frozen=True)
class OpticDisc:
    x: float
    y: float
    radius: float

    def contains(self, x: np.ndarray, y: np.ndarray, *, margin: float = 1.2) -> np.ndarray:
        return np.hypot(np.asarray(x) - self.x, np.asarray(y) - self.y) <= margin * self.radius


def find_optic_disc(view: FundusView) -> OpticDisc:
    """Peak of the brightness smoothed at the disc's size (disc diameter ~ 1/7 of the FOV)."""
    u = view.unit
    radius = 1000 * u / 14
    luminance = cv2.cvtColor(view.rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    luminance[~view.fov] = 0
    smooth = cv2.GaussianBlur(luminance, (0, 0), radius / 2)
    weight = cv2.GaussianBlur(view.fov.astype(np.float32), (0, 0), radius / 2) + 1e-3
    score = smooth / weight
    score[~view.fov] = 0
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return OpticDisc(float(x), float(y), float(radius))
