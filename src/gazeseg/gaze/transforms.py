"""Coordinate frames of gaze samples: tracker display (0..1) -> screen pixels -> image pixels."""

from __future__ import annotations

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples


def to_screen_px(samples: GazeSamples, geometry: ViewingGeometry) -> GazeSamples:
    """display_norm -> screen_px (screen_px passes through)."""
    if samples.frame == "screen_px":
        return samples
    if samples.frame != "display_norm":
        raise InputError(f"gaze frame: expected display_norm or screen_px, got {samples.frame}")
    return _map(samples, geometry.norm_to_screen_px, "screen_px")


def to_image_px(samples: GazeSamples, geometry: ViewingGeometry, viewport: Viewport) -> GazeSamples:
    """Samples in image pixels for the image shown at ``viewport`` (zoom and pan included)."""
    if samples.frame == "image_px":
        return samples
    screen = to_screen_px(samples, geometry)
    return _map(screen, viewport.screen_to_image, "image_px")


def _map(samples: GazeSamples, fn, frame) -> GazeSamples:  # type: ignore[no-untyped-def]
    def conv(xy: np.ndarray | None) -> np.ndarray | None:
        return None if xy is None else fn(np.asarray(xy, float))

    return GazeSamples(
        t_s=samples.t_s,
        xy=conv(samples.xy),
        valid=samples.valid,
        frame=frame,
        left_xy=conv(samples.left_xy),
        right_xy=conv(samples.right_xy),
        pupil_mm=samples.pupil_mm,
    )
