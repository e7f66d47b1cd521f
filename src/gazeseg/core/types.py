"""Plain data types passed between layers.

Conventions (kept everywhere, flipped only at library boundaries):
- points are (x, y) = (column, row) in pixels of the frame named by the field;
- images are (rows, cols[, channels]) numpy arrays;
- times are seconds (``*_s``), angles degrees (``*_deg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

GazeFrame = Literal["display_norm", "screen_px", "image_px"]


@dataclass(frozen=True)
class GazeSamples:
    """A block of gaze samples, columnar.

    ``xy`` is the combined (binocular average or the valid eye) position, shape (N, 2),
    NaN where invalid; ``frame`` names its coordinate frame: ``display_norm`` (0..1 of the
    display, origin top-left, as Tobii's ``gaze_point_on_display_area``), ``screen_px`` or
    ``image_px``. Per-eye positions and pupil diameters (mm) are optional.
    """

    t_s: np.ndarray
    xy: np.ndarray
    valid: np.ndarray
    frame: GazeFrame = "display_norm"
    left_xy: np.ndarray | None = None
    right_xy: np.ndarray | None = None
    pupil_mm: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.xy.shape != (n, 2):
            raise ValueError(f"GazeSamples.xy: expected shape ({n}, 2), got {self.xy.shape}")
        if self.valid.shape != (n,):
            raise ValueError(f"GazeSamples.valid: expected shape ({n},), got {self.valid.shape}")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self) > 1 else 0.0

    def select(self, index: np.ndarray | slice) -> GazeSamples:
        """Rows by boolean mask, integer index or slice, every column alike."""
        take = lambda a: None if a is None else a[index]  # noqa: E731
        return GazeSamples(
            t_s=self.t_s[index], xy=self.xy[index], valid=self.valid[index], frame=self.frame,
            left_xy=take(self.left_xy), right_xy=take(self.right_xy), pupil_mm=take(self.pupil_mm),
        )

    @staticmethod
    def concat(blocks: list[GazeSamples]) -> GazeSamples:
        if not blocks:
            return GazeSamples.empty()
        frames = {b.frame for b in blocks}
        if len(frames) != 1:
            raise ValueError(f"GazeSamples.concat: blocks must share one frame, got {sorted(frames)}")
        opt = lambda name: (  # noqa: E731
            np.concatenate([getattr(b, name) for b in blocks])
            if all(getattr(b, name) is not None for b in blocks) else None
        )
        return GazeSamples(
            t_s=np.concatenate([b.t_s for b in blocks]), xy=np.concatenate([b.xy for b in blocks]),
            valid=np.concatenate([b.valid for b in blocks]), frame=blocks[0].frame,
            left_xy=opt("left_xy"), right_xy=opt("right_xy"), pupil_mm=opt("pupil_mm"),
        )

    @staticmethod
    def empty(frame: GazeFrame = "display_norm") -> GazeSamples:
        return GazeSamples(np.zeros(0), np.zeros((0, 2)), np.zeros(0, bool), frame=frame)


@dataclass(frozen=True)
class Fixation:
    """One fixation: onset/offset in seconds and centroid (x, y) in ``frame``."""

    start_s: float
    end_s: float
    x: float
    y: float
    frame: GazeFrame = "display_norm"
    dispersion: float = 0.0
    n_samples: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y], dtype=float)


@dataclass(frozen=True)
class PromptSet:
    """Prompts for an engine, in image pixels of the image that was embedded.

    points_xy: (N, 2) float (x, y); labels: (N,) int, 1 positive, 0 negative;
    box_xyxy: (4,) float or None; mask_logits: (256, 256) float32 low-resolution logits of a
    previous prediction (SAM's ``mask_input``) or None.
    """

    points_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), float))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    box_xyxy: np.ndarray | None = None
    mask_logits: np.ndarray | None = None

    def __post_init__(self) -> None:
        pts = np.asarray(self.points_xy, dtype=float).reshape(-1, 2)
        labels = np.asarray(self.labels, dtype=int).reshape(-1)
        if len(pts) != len(labels):
            raise ValueError(f"PromptSet: {len(pts)} points but {len(labels)} labels; give one label per point")
        if not np.all(np.isin(labels, (0, 1))):
            raise ValueError(f"PromptSet.labels: expected 0 (negative) or 1 (positive), got {sorted(set(labels.tolist()))}")
        if not np.all(np.isfinite(pts)):
            raise ValueError("PromptSet.points_xy: expected finite coordinates, got NaN or inf; drop invalid gaze samples first")
        object.__setattr__(self, "points_xy", pts)
        object.__setattr__(self, "labels", labels)
        if self.box_xyxy is not None:
            box = np.asarray(self.box_xyxy, dtype=float).reshape(4)
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"PromptSet.box_xyxy: expected x0 < x1 and y0 < y1, got {box.tolist()}")
            object.__setattr__(self, "box_xyxy", box)

    @property
    def is_empty(self) -> bool:
        return len(self.points_xy) == 0 and self.box_xyxy is None and self.mask_logits is None

    def with_points(self, points_xy: np.ndarray, labels: np.ndarray) -> PromptSet:
        return PromptSet(
            np.concatenate([self.points_xy, np.asarray(points_xy, float).reshape(-1, 2)]),
            np.concatenate([self.labels, np.asarray(labels, int).reshape(-1)]),
            self.box_xyxy, self.mask_logits,
        )

    def cache_key(self) -> tuple:
        """Hashable identity: equal prompts decode to equal masks, so the decode can be skipped."""
        box = None if self.box_xyxy is None else tuple(np.round(self.box_xyxy, 2))
        logits = None if self.mask_logits is None else hash(self.mask_logits.tobytes())
        return (tuple(map(tuple, np.round(self.points_xy, 2))), tuple(self.labels), box, logits)


@dataclass(frozen=True)
class MaskPrediction:
    """Candidate masks for one prompt set.

    masks: (K, H, W) bool at the embedded image's size; scores: (K,) predicted IoU;
    low_res_logits: (K, 256, 256) float32, feed one back as ``PromptSet.mask_logits``.
    """

    masks: np.ndarray
    scores: np.ndarray
    low_res_logits: np.ndarray

    @property
    def best_index(self) -> int:
        return int(np.argmax(self.scores))

    @property
    def best_mask(self) -> np.ndarray:
        return self.masks[self.best_index]
