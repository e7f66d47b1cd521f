"""Cleaning raw gaze: validity, blinks, short-gap filling, timestamp order and the 1-euro smoother."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gazeseg.core.types import GazeSamples

BLINK_MIN_S = 0.075
BLINK_MAX_S = 0.5
"""Invalid runs this long are blinks (Holmqvist et al. 2011, Eye Tracking, ch. 5)."""


def mark_invalid(samples: GazeSamples, *, margin: float = 0.05) -> GazeSamples:
    """Invalidate NaN/inf samples and, in display_norm, samples outside the display (plus margin).

    Tobii reports lost eyes as NaN or as (0, 0)-like garbage with validity 0; both end up invalid.
    """
    xy = np.asarray(samples.xy, float)
    ok = np.asarray(samples.valid, bool) & np.all(np.isfinite(xy), axis=1)
    if samples.frame == "display_norm":
        ok &= np.all((xy >= -margin) & (xy <= 1 + margin), axis=1)
    xy = xy.copy()
    xy[~ok] = np.nan
    return GazeSamples(samples.t_s, xy, ok, samples.frame, samples.left_xy, samples.right_xy, samples.pupil_mm)


def enforce_monotonic(samples: GazeSamples) -> tuple[GazeSamples, int]:
    """Drop samples whose timestamp does not increase (clock resets, duplicated packets).

    Returns the kept samples and how many were dropped, so callers can report it.
    """
    t = np.asarray(samples.t_s, float)
    keep = np.ones(len(t), bool)
    last = -np.inf
    for i, value in enumerate(t):
        if not value > last:
            keep[i] = False
        else:
            last = value
    return samples.select(keep), int((~keep).sum())


def invalid_runs(valid: np.ndarray, t_s: np.ndarray) -> list[tuple[int, int, float]]:
    """(start index, end index exclusive, duration s) of each run of invalid samples."""
    runs = []
    n = len(valid)
    i = 0
    while i < n:
        if valid[i]:
            i += 1
            continue
        j = i
        while j < n and not valid[j]:
            j += 1
        before = t_s[i - 1] if i > 0 else t_s[i]
        after = t_s[j] if j < n else t_s[j - 1]
        runs.append((i, j, float(after - before)))
        i = j
    return runs


def detect_blinks(samples: GazeSamples, *, min_s: float = BLINK_MIN_S, max_s: float = BLINK_MAX_S) -> list[tuple[float, float]]:
    """(start s, end s) of blinks: invalid runs between ``min_s`` and ``max_s`` long."""
    t = np.asarray(samples.t_s, float)
    return [
        (float(t[i]), float(t[j - 1]))
        for i, j, duration in invalid_runs(np.asarray(samples.valid, bool), t)
        if min_s <= duration <= max_s
    ]


def fill_gaps(samples: GazeSamples, *, max_gap_s: float = BLINK_MIN_S) -> GazeSamples:
    """Linearly interpolate invalid runs shorter than ``max_gap_s`` between valid samples; blinks stay gaps."""
    xy = np.asarray(samples.xy, float).copy()
    valid = np.asarray(samples.valid, bool).copy()
    t = np.asarray(samples.t_s, float)
    for i, j, duration in invalid_runs(valid, t):
        if i == 0 or j >= len(t) or duration > max_gap_s:
            continue
        w = (t[i:j] - t[i - 1]) / (t[j] - t[i - 1])
        xy[i:j] = xy[i - 1] + w[:, None] * (xy[j] - xy[i - 1])
        valid[i:j] = True
    return GazeSamples(samples.t_s, xy, valid, samples.frame, samples.left_xy, samples.right_xy, samples.pupil_mm)


@dataclass
class OneEuroFilter:
    """The 1-euro filter (Casiez, Roussel & Vogel, CHI 2012): smooth when still, fast when moving.

    ``min_cutoff_hz`` sets jitter removal during fixations; ``beta`` how quickly the cut-off
    rises with speed (less lag in saccades). Written here because it is twenty lines and no
    maintained package offers a streaming 2D version with timestamps.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.01
    d_cutoff_hz: float = 1.0
    _x: np.ndarray | None = None
    _dx: np.ndarray | None = None
    _t: float | None = None

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, t: float, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = xy.copy(), np.zeros_like(xy), t
            return xy.copy()
        dt = t - self._t
        dx = (xy - self._x) / dt
        a_d = self._alpha(self.d_cutoff_hz, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff_hz + self.beta * float(np.linalg.norm(self._dx))
        a = self._alpha(cutoff, dt)
        self._x = a * xy + (1 - a) * self._x
        self._t = t
        return self._x.copy()

    def filter(self, samples: GazeSamples) -> GazeSamples:
        """Smooth a block; invalid samples pass through and restart the filter after them."""
        xy = np.asarray(samples.xy, float).copy()
        for i, (t, ok) in enumerate(zip(samples.t_s.tolist(), samples.valid.tolist())):
            if ok and np.all(np.isfinite(xy[i])):
                xy[i] = self(t, xy[i])
            else:
                self.reset()
        return GazeSamples(samples.t_s, xy, samples.valid, samples.frame, samples.left_xy, samples.right_xy, samples.pupil_mm)
