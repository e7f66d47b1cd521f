"""The one place that converts between display, screen, image pixels and visual degrees.

Frames:
- ``display_norm``: (0..1, 0..1) of the tracked display, origin top-left (Tobii's convention);
- ``screen_px``: pixels of that display;
- ``image_px``: pixels of the image, (x, y) = (column, row), sub-pixel centres at +0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViewingGeometry:
    """Physical display and viewer, for thresholds and errors in degrees.

    Defaults: a 15.6" 1920x1080 laptop panel (344x194 mm) viewed from 600 mm.
    """

    screen_w_px: int = 1920
    screen_h_px: int = 1080
    screen_w_mm: float = 344.0
    screen_h_mm: float = 194.0
    distance_mm: float = 600.0

    def __post_init__(self) -> None:
        for name in ("screen_w_px", "screen_h_px", "screen_w_mm", "screen_h_mm", "distance_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"ViewingGeometry.{name}: expected a positive number, got {value!r}")

    @property
    def mm_per_px(self) -> float:
        return 0.5 * (self.screen_w_mm / self.screen_w_px + self.screen_h_mm / self.screen_h_px)

    @property
    def px_per_deg(self) -> float:
        """Screen pixels per degree at the display centre (exact for a 1 degree visual angle)."""
        return 2.0 * self.distance_mm * math.tan(math.radians(0.5)) / self.mm_per_px

    def px_to_deg(self, px: np.ndarray | float) -> np.ndarray | float:
        """Screen-pixel distances from the display centre to visual angle (atan, not linear)."""
        return np.degrees(2.0 * np.arctan2(np.asarray(px) * self.mm_per_px, 2.0 * self.distance_mm))

    def deg_to_px(self, deg: np.ndarray | float) -> np.ndarray | float:
        return 2.0 * self.distance_mm * np.tan(np.radians(np.asarray(deg)) / 2.0) / self.mm_per_px

    def norm_to_screen_px(self, xy_norm: np.ndarray) -> np.ndarray:
        return np.asarray(xy_norm, float) * np.array([self.screen_w_px, self.screen_h_px])

    def screen_px_to_norm(self, xy_px: np.ndarray) -> np.ndarray:
        return np.asarray(xy_px, float) / np.array([self.screen_w_px, self.screen_h_px])

    def screen_px_to_deg(self, xy_px: np.ndarray) -> np.ndarray:
        """Positions in degrees of visual angle from the display centre, per axis (pymovements' pix2deg)."""
        centred = np.asarray(xy_px, float) - np.array([self.screen_w_px, self.screen_h_px]) / 2.0
        return self.px_to_deg(centred)


@dataclass(frozen=True)
class Viewport:
    """Where an image sits on the screen: top-left corner in screen px and screen px per image px.

    Zoom changes ``scale``; pan changes ``left_px``/``top_px``.
    """

    image_w: int
    image_h: int
    left_px: float = 0.0
    top_px: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.image_w <= 0 or self.image_h <= 0:
            raise ValueError(f"Viewport: expected a positive image size, got {self.image_w}x{self.image_h}")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"Viewport.scale: expected a positive zoom factor, got {self.scale!r}")

    @staticmethod
    def fit(image_w: int, image_h: int, geometry: ViewingGeometry, *, fill: float = 0.9) -> Viewport:
        """Centre the image on the screen, scaled to ``fill`` of the limiting screen side."""
        scale = fill * min(geometry.screen_w_px / image_w, geometry.screen_h_px / image_h)
        left = (geometry.screen_w_px - scale * image_w) / 2.0
        top = (geometry.screen_h_px - scale * image_h) / 2.0
        return Viewport(image_w, image_h, left, top, scale)

    def screen_to_image(self, xy_screen_px: np.ndarray) -> np.ndarray:
        return (np.asarray(xy_screen_px, float) - np.array([self.left_px, self.top_px])) / self.scale

    def image_to_screen(self, xy_image_px: np.ndarray) -> np.ndarray:
        return np.asarray(xy_image_px, float) * self.scale + np.array([self.left_px, self.top_px])

    def contains(self, xy_image_px: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy_image_px, float).reshape(-1, 2)
        return (xy[:, 0] >= 0) & (xy[:, 0] < self.image_w) & (xy[:, 1] >= 0) & (xy[:, 1] < self.image_h)

    def zoomed(self, factor: float, *, about_screen_px: tuple[float, float]) -> Viewport:
        """Zoom by ``factor`` keeping the screen point ``about_screen_px`` fixed (wheel zoom)."""
        cx, cy = about_screen_px
        return Viewport(
            self.image_w, self.image_h,
            cx - (cx - self.left_px) * factor, cy - (cy - self.top_px) * factor, self.scale * factor,
        )

    def panned(self, dx_px: float, dy_px: float) -> Viewport:
        return Viewport(self.image_w, self.image_h, self.left_px + dx_px, self.top_px + dy_px, self.scale)

    def image_px_per_deg(self, geometry: ViewingGeometry) -> float:
        """Image pixels per degree of visual angle at this zoom: thresholds in degrees become pixels."""
        return geometry.px_per_deg / self.scale


def xy_to_rc(xy: np.ndarray) -> np.ndarray:
    """(x, y) points to integer (row, col) indices, rounding down to the containing pixel."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    return np.floor(xy[:, ::-1]).astype(int)


def rc_to_xy(rc: np.ndarray) -> np.ndarray:
    """(row, col) pixel indices to (x, y) pixel centres."""
    rc = np.asarray(rc, float).reshape(-1, 2)
    return rc[:, ::-1] + 0.5
