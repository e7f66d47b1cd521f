"""Fixation detection, online and offline, with thresholds in degrees and seconds.

The offline functions run the online detectors over the whole recording, so a live session and
a replay of its recording find exactly the same fixations. Invalid samples (blinks, dropouts)
end a fixation. Checked against pymovements' offline detectors in benchmarks/gaze_agreement.py.
"""

from __future__ import annotations

import math

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation, GazeSamples


def _check(px_per_deg: float, min_duration_s: float) -> None:
    if not (px_per_deg > 0 and math.isfinite(px_per_deg)):
        raise InputError(f"px_per_deg: expected a positive number of pixels per degree, got {px_per_deg!r}")
    if not min_duration_s >= 0:
        raise InputError(f"min_duration_s: expected >= 0 seconds, got {min_duration_s!r}")


def _push_block(detector: OnlineIDT | OnlineIVT, samples: GazeSamples) -> list[Fixation]:
    out = []
    for t, (x, y), ok in zip(samples.t_s.tolist(), samples.xy.tolist(), samples.valid.tolist()):
        done = detector.push_one(t, x, y, ok)
        if done is not None:
            out.append(done)
    return out


class OnlineIDT:
    """Dispersion-threshold identification (Salvucci & Goldberg 2000), one sample at a time.

    Dispersion is (max x - min x) + (max y - min y) of the window, compared in degrees.
    """

    def __init__(self, *, px_per_deg: float, dispersion_deg: float = 1.0, min_duration_s: float = 0.1, frame: str = "image_px") -> None:
        _check(px_per_deg, min_duration_s)
        self.max_dispersion_px = dispersion_deg * px_per_deg
        self.min_duration_s = min_duration_s
        self.frame = frame
        self._t: list[float] = []
        self._x: list[float] = []
        self._y: list[float] = []
        self._bounds: list[float] | None = None  # min x, max x, min y, max y once a fixation runs

    def _dispersion(self, extra: tuple[float, float] | None = None) -> float:
        if self._bounds is not None:
            x0, x1, y0, y1 = self._bounds
        else:
            x0, x1, y0, y1 = min(self._x), max(self._x), min(self._y), max(self._y)
        if extra is not None:
            x0, x1, y0, y1 = min(x0, extra[0]), max(x1, extra[0]), min(y0, extra[1]), max(y1, extra[1])
        return (x1 - x0) + (y1 - y0)

    def _emit(self) -> Fixation:
        return Fixation(
            start_s=self._t[0],
            end_s=self._t[-1],
            x=float(np.mean(self._x)),
            y=float(np.mean(self._y)),
            frame=self.frame,  # type: ignore[arg-type]
            dispersion=self._dispersion(),
            n_samples=len(self._t),
        )

    def _reset(self) -> None:
        self._t, self._x, self._y, self._bounds = [], [], [], None

    def push_one(self, t: float, x: float, y: float, valid: bool) -> Fixation | None:
        """Feed one sample; returns a fixation when this sample ends one."""
        if not valid or not (math.isfinite(x) and math.isfinite(y)):
            done = self._emit() if self._bounds is not None else None
            self._reset()
            return done
        if self._bounds is not None:
            if self._dispersion((x, y)) <= self.max_dispersion_px:
                self._t.append(t)
                self._x.append(x)
                self._y.append(y)
                b = self._bounds
                self._bounds = [min(b[0], x), max(b[1], x), min(b[2], y), max(b[3], y)]
                return None
            done = self._emit()
            self._reset()
            self._t, self._x, self._y = [t], [x], [y]
            return done
        self._t.append(t)
        self._x.append(x)
        self._y.append(y)
        while len(self._t) > 1 and self._dispersion() > self.max_dispersion_px:
            del self._t[0], self._x[0], self._y[0]
        if self._t[-1] - self._t[0] >= self.min_duration_s:
            self._bounds = [min(self._x), max(self._x), min(self._y), max(self._y)]
        return None

    def push(self, samples: GazeSamples) -> list[Fixation]:
        """Fixations completed by these samples."""
        return _push_block(self, samples)

    @property
    def current(self) -> Fixation | None:
        """The fixation in progress (already past the minimum duration), else None."""
        return self._emit() if self._bounds is not None else None

    def flush(self) -> list[Fixation]:
        done = [self._emit()] if self._bounds is not None else []
        self._reset()
        return done


class OnlineIVT:
    """Velocity-threshold identification: samples slower than the threshold form fixations."""

    def __init__(self, *, px_per_deg: float, velocity_deg_s: float = 30.0, min_duration_s: float = 0.06, frame: str = "image_px") -> None:
        _check(px_per_deg, min_duration_s)
        self.px_per_deg = px_per_deg
        self.velocity_deg_s = velocity_deg_s
        self.min_duration_s = min_duration_s
        self.frame = frame
        self._prev: tuple[float, float, float] | None = None
        self._run: list[tuple[float, float, float]] = []

    def _emit(self) -> Fixation | None:
        run = self._run
        if len(run) < 2 or run[-1][0] - run[0][0] < self.min_duration_s:
            return None
        xs = [r[1] for r in run]
        ys = [r[2] for r in run]
        return Fixation(
            start_s=run[0][0], end_s=run[-1][0], x=float(np.mean(xs)), y=float(np.mean(ys)),
            frame=self.frame,  # type: ignore[arg-type]
            dispersion=(max(xs) - min(xs)) + (max(ys) - min(ys)), n_samples=len(run),
        )

    def push_one(self, t: float, x: float, y: float, valid: bool) -> Fixation | None:
        if not valid or not (math.isfinite(x) and math.isfinite(y)):
            done = self._emit()
            self._run, self._prev = [], None
            return done
        done = None
        if self._prev is not None:
            dt = t - self._prev[0]
            speed = math.hypot(x - self._prev[1], y - self._prev[2]) / self.px_per_deg / dt if dt > 0 else 0.0
            if speed > self.velocity_deg_s:
                done = self._emit()
                self._run = []
            elif not self._run:
                self._run.append(self._prev)
        if self._run:
            self._run.append((t, x, y))
        self._prev = (t, x, y)
        return done

    def push(self, samples: GazeSamples) -> list[Fixation]:
        """Fixations completed by these samples."""
        return _push_block(self, samples)

    @property
    def current(self) -> Fixation | None:
        return self._emit()

    def flush(self) -> list[Fixation]:
        done = self._emit()
        self._run, self._prev = [], None
        return [done] if done is not None else []


def idt(samples: GazeSamples, *, px_per_deg: float, dispersion_deg: float = 1.0, min_duration_s: float = 0.1) -> list[Fixation]:
    """All fixations of a recording by I-DT (samples in a pixel frame)."""
    detector = OnlineIDT(px_per_deg=px_per_deg, dispersion_deg=dispersion_deg, min_duration_s=min_duration_s, frame=samples.frame)
    return detector.push(samples) + detector.flush()


def ivt(samples: GazeSamples, *, px_per_deg: float, velocity_deg_s: float = 30.0, min_duration_s: float = 0.06) -> list[Fixation]:
    """All fixations of a recording by I-VT (samples in a pixel frame)."""
    detector = OnlineIVT(px_per_deg=px_per_deg, velocity_deg_s=velocity_deg_s, min_duration_s=min_duration_s, frame=samples.frame)
    return detector.push(samples) + detector.flush()


def fixation_labels(samples: GazeSamples, fixations: list[Fixation]) -> np.ndarray:
    """Per-sample bool: inside one of ``fixations`` (for agreement measures)."""
    out = np.zeros(len(samples), bool)
    for f in fixations:
        out |= (samples.t_s >= f.start_s) & (samples.t_s <= f.end_s)
    return out & samples.valid
