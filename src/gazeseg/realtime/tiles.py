"""Large images by crops around the gaze.

Why: SAM resizes the long side to 1024 px, so a 4288x2848 fundus photograph loses three quarters
of its resolution and a 160-pixel microaneurysm becomes a few pixels. Embedding a crop of
``size`` pixels around the fixation at native resolution keeps the detail; prompts move into the
crop's frame and the crop's mask is pasted back into the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet


@dataclass(frozen=True)
class Crop:
    """A window of the full image: top-left (x0, y0) and size in image px."""

    x0: int
    y0: int
    width: int
    height: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, cols) slices for indexing the full image."""
        return slice(self.y0, self.y0 + self.height), slice(self.x0, self.x0 + self.width)

    @property
    def key(self) -> str:
        """Part of an embedding id: the same crop of the same image reuses its embedding."""
        return f"crop{self.x0}_{self.y0}_{self.width}x{self.height}"

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) full-image (x, y) -> crop (x, y)."""
        return np.asarray(xy, float).reshape(-1, 2) - np.array([self.x0, self.y0], float)

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) crop (x, y) -> full-image (x, y)."""
        return np.asarray(xy, float).reshape(-1, 2) + np.array([self.x0, self.y0], float)

    def contains(self, xy: np.ndarray, *, margin_px: float = 0.0) -> np.ndarray:
        c = self.to_crop(xy)
        return ((c[:, 0] >= margin_px) & (c[:, 0] <= self.width - margin_px)
                & (c[:, 1] >= margin_px) & (c[:, 1] <= self.height - margin_px))

    def prompts_to_crop(self, prompts: PromptSet) -> PromptSet:
        """Points and box in the crop's frame; points outside the crop are dropped (they say nothing there)."""
        inside = self.contains(prompts.points_xy)
        box = None
        if prompts.box_xyxy is not None:
            b = prompts.box_xyxy - np.array([self.x0, self.y0, self.x0, self.y0], float)
            b = np.clip(b, 0, [self.width, self.height, self.width, self.height])
            box = b if (b[2] > b[0] and b[3] > b[1]) else None
        return PromptSet(self.to_crop(prompts.points_xy[inside]), prompts.labels[inside], box, None)

    def paste(self, crop_mask: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
        """A (height, width) crop mask placed into an all-False full-image mask."""
        if crop_mask.shape != (self.height, self.width):
            raise InputError(f"crop mask: expected shape ({self.height}, {self.width}), got {crop_mask.shape}")
        full = np.zeros(image_hw, bool)
        full[self.slices] = crop_mask
        return full


def needs_tiling(image_hw: tuple[int, int], *, engine_side: int = 1024, factor: float = 2.0) -> bool:
    """True when the engine's input would shrink the image by more than ``factor``."""
    return max(image_hw) > factor * engine_side


def crop_around(image_hw: tuple[int, int], centre_xy: tuple[float, float], *, size: int = 1024, snap: int = 256) -> Crop:
    """A ``size`` x ``size`` crop containing ``centre_xy``, shifted to stay inside the image.

    The origin snaps to a ``snap``-px grid so nearby fixations reuse one crop (and its cached
    embedding) instead of embedding a new crop for every small eye movement.
    """
    h, w = image_hw
    cx, cy = float(centre_xy[0]), float(centre_xy[1])
    if not (0 <= cx <= w and 0 <= cy <= h):
        raise InputError(f"crop centre: ({cx:.1f}, {cy:.1f}) lies outside the {w}x{h} image; give image pixels")
    if size < 16:
        raise InputError(f"crop size: expected at least 16 px, got {size}")
    cw, ch = min(size, w), min(size, h)
    x0 = cx - cw / 2
    y0 = cy - ch / 2
    if snap > 1:
        x0 = round(x0 / snap) * snap
        y0 = round(y0 / snap) * snap
    x0 = int(np.clip(x0, 0, w - cw))
    y0 = int(np.clip(y0, 0, h - ch))
    # Snapping may move the centre out of the crop's inner part: keep a quarter-crop margin.
    if not (x0 + cw / 4 <= cx <= x0 + 3 * cw / 4):
        x0 = int(np.clip(cx - cw / 2, 0, w - cw))
    if not (y0 + ch / 4 <= cy <= y0 + 3 * ch / 4):
        y0 = int(np.clip(cy - ch / 2, 0, h - ch))
    return Crop(x0, y0, cw, ch)


def crop_image(image: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop's pixels (a contiguous copy, ready to embed)."""
    return np.ascontiguousarray(image[crop.slices])
