"""Implicit recalibration: learn a tracker's systematic offset from the masks a user accepts.

Why: a webcam tracker (about 4 deg accuracy) misses every look by roughly the same vector for a
whole sitting, so corrective looks land off target again and again. An explicit recalibration
interrupts the work; but every accepted mask already says where the user was looking: at the
object. People's first look at an object lands near its centre (the "preferred viewing
location", Nuthmann & Henderson 2010, *Journal of Vision* 10(8):20), so the vector from the
look's raw gaze to the accepted object's centre is one noisy sample of the offset, the noisier
the bigger the object (where on it people land scatters with its size). WebGazer (Papoutsaki et
al. 2016, IJCAI) does the same with mouse clicks. A median of these samples weighted by
1/size^2 (robust to a mask on the wrong object), applied as far as it stands out from their
noise, corrects later gaze.

Everything is in screen pixels: the offset belongs to the tracker, not to an image (images are
fitted to the screen at different scales).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import Viewport
from gazeseg.core.types import GazeSamples


def mask_anchor(mask: np.ndarray) -> np.ndarray:
    """Where a first look at ``mask``'s object is expected (image px, x y): its centroid, or the
    object's deepest point when the centroid is off the object (a concave shape)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise InputError("mask_anchor: the mask is empty; only an accepted, non-empty mask says where the user looked")
    rows, cols = np.nonzero(mask)
    r, c = int(round(rows.mean())), int(round(cols.mean()))
    if not mask[min(r, mask.shape[0] - 1), min(c, mask.shape[1] - 1)]:
        depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        r, c = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return np.array([c + 0.5, r + 0.5])


LANDING_SCATTER = 0.25
"""Per-axis SD of where first looks land on an object, in units of its size (sqrt of its area):
0.22-0.26 in the OSIE-fitted landing model on GrabCut and DAVIS objects (docs/gaze.md)."""


class ImplicitRecalibration:
    """A translation learnt online from (raw gaze, expected target) pairs, in screen px.

    Each pair is noisy (where on an object a look lands scatters by about its size), so the
    correction is applied only as far as the data set it apart from noise: from ``min_samples``
    pairs on, the weighted median is scaled by max(0, 1 - (2 / z)^2), z its distance from zero in
    standard errors (a two-sigma gate; the error from the pairs' own spread, or from
    ``LANDING_SCATTER`` if that is larger). A good tracker's small offset is then left alone rather
    than replaced by estimation noise; a webcam's is corrected after a few objects.
    max_shift_px: corrections are capped at this length (a few times the tracker's accuracy):
    a run of wrong masks cannot send gaze off the screen.
    """

    def __init__(self, *, max_shift_px: float, min_samples: int = 3) -> None:
        if not (max_shift_px > 0 and np.isfinite(max_shift_px)):
            raise InputError(f"max_shift_px: expected a positive length in screen px, got {max_shift_px!r}")
        if min_samples < 2:
            raise InputError(f"min_samples: expected at least 2 (a spread needs two), got {min_samples!r}")
        self.max_shift_px = float(max_shift_px)
        self.min_samples = int(min_samples)
        self._residuals: list[np.ndarray] = []
        self._weights: list[float] = []

    @property
    def n_samples(self) -> int:
        return len(self._residuals)

    @property
    def pairs(self) -> list[tuple[np.ndarray, float]]:
        """What was learnt from: (target - raw gaze, weight) per accepted object."""
        return [(r.copy(), w) for r, w in zip(self._residuals, self._weights)]

    def observe(self, gaze_screen_xy: np.ndarray, target_screen_xy: np.ndarray, *, target_size_px: float) -> bool:
        """Add one pair: the raw (uncorrected) centre of a look and where it should have been;
        ``target_size_px``: the object's size on screen (sqrt of its area), how far from
        ``target_screen_xy`` a correct look may land. Pairs with a non-finite value are ignored
        (a look lost to a blink); returns whether the pair was kept."""
        residual = np.asarray(target_screen_xy, float).reshape(2) - np.asarray(gaze_screen_xy, float).reshape(2)
        if not (np.all(np.isfinite(residual)) and np.isfinite(target_size_px) and target_size_px > 0):
            return False
        self._residuals.append(residual)
        self._weights.append(1.0 / float(target_size_px) ** 2)
        return True

    def observe_accepted(self, gaze_screen_xy: np.ndarray, mask: np.ndarray, viewport: Viewport) -> bool:
        """One accepted object: its mask (image px) as shown at ``viewport``, against the raw centre
        of the first look at it (screen px)."""
        anchor = viewport.image_to_screen(mask_anchor(mask)[None])[0]
        return self.observe(gaze_screen_xy, anchor, target_size_px=float(np.sqrt(np.count_nonzero(mask))) * viewport.scale)

    @property
    def shift_px(self) -> np.ndarray:
        """The correction added to raw gaze (screen px)."""
        if len(self._residuals) < self.min_samples:
            return np.zeros(2)
        residuals, weights = np.array(self._residuals), np.array(self._weights)
        centre = np.array([_weighted_median(residuals[:, k], weights) for k in range(2)])
        # robust spread (1.4826 x weighted MAD), and the median's standard error (1.253 x that of a mean)
        spread = np.array([1.4826 * _weighted_median(np.abs(residuals[:, k] - centre[k]), weights) for k in range(2)])
        n_eff = weights.sum() ** 2 / (weights**2).sum()
        # a few pairs can agree by chance: never trust them beyond people's known landing scatter
        se = 1.253 * np.maximum(spread / np.sqrt(n_eff), LANDING_SCATTER / np.sqrt(weights.sum()))
        z = float(np.hypot(*(centre / se))) if np.all(se > 0) else np.inf
        shift = centre * max(0.0, 1.0 - (2.0 / z) ** 2)
        length = float(np.hypot(*shift))
        return shift * min(1.0, self.max_shift_px / length) if length > 0 else shift

    def to_dict(self) -> dict:
        return {"max_shift_px": self.max_shift_px, "min_samples": self.min_samples,
                "residuals": [r.tolist() for r in self._residuals], "weights": list(self._weights)}

    @classmethod
    def from_dict(cls, data: dict) -> ImplicitRecalibration:
        model = cls(max_shift_px=float(data["max_shift_px"]), min_samples=int(data.get("min_samples", 3)))
        residuals, weights = data.get("residuals", []), data.get("weights", [])
        if len(residuals) != len(weights):
            raise InputError("implicit recalibration: stored residuals and weights differ in length; reset it")
        model._residuals = [np.asarray(r, float).reshape(2) for r in residuals]
        model._weights = [float(w) for w in weights]
        return model

    def apply(self, samples: GazeSamples) -> GazeSamples:
        """Raw screen-px gaze -> corrected gaze (invalid samples stay as they are)."""
        if samples.frame != "screen_px":
            raise InputError(f"implicit recalibration works on screen_px gaze, got frame {samples.frame!r}; convert first")
        shift = self.shift_px
        moved = lambda xy: None if xy is None else xy + shift  # noqa: E731
        return replace(samples, xy=samples.xy + shift, left_xy=moved(samples.left_xy), right_xy=moved(samples.right_xy))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
