"""Calibration and validation: targets, accuracy and precision in degrees, drift correction, and
the mapping from a tracker's display coordinates to a page (a page cannot know where it sits on
the screen, so the app learns it from targets shown in the page).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry


def target_grid(n: int = 9, *, margin: float = 0.1) -> np.ndarray:
    """Standard calibration targets in 0..1 coordinates: 5 (corners + centre), 9 or 13 points."""
    lo, hi = margin, 1 - margin
    mid = 0.5
    if n == 5:
        pts = [(mid, mid), (lo, lo), (hi, lo), (lo, hi), (hi, hi)]
    elif n == 9:
        pts = [(x, y) for y in (lo, mid, hi) for x in (lo, mid, hi)]
    elif n == 13:
        q1, q3 = (lo + mid) / 2, (mid + hi) / 2
        pts = [(x, y) for y in (lo, mid, hi) for x in (lo, mid, hi)] + [(q1, q1), (q3, q1), (q1, q3), (q3, q3)]
    else:
        raise InputError(f"calibration targets: expected 5, 9 or 13 points, got {n}")
    return np.array(pts, float)


@dataclass(frozen=True)
class TargetQuality:
    target_xy: tuple[float, float]
    accuracy_deg: float
    precision_rms_deg: float
    precision_sd_deg: float
    n_samples: int


@dataclass(frozen=True)
class ValidationReport:
    """Accuracy (mean angular offset) and precision (RMS sample-to-sample, SD) per target and overall."""

    targets: list[TargetQuality]
    accuracy_deg: float
    precision_rms_deg: float
    precision_sd_deg: float
    accuracy_px: float

    def summary(self) -> str:
        return (
            f"accuracy {self.accuracy_deg:.2f} deg ({self.accuracy_px:.0f} px), "
            f"precision {self.precision_rms_deg:.2f} deg RMS-S2S, {self.precision_sd_deg:.2f} deg SD"
        )


def validate(
    targets_screen_px: np.ndarray,
    samples_per_target: list[np.ndarray],
    geometry: ViewingGeometry,
) -> ValidationReport:
    """Quality of gaze recorded while the user looked at each target (all in screen pixels).

    Angles use the true visual angle from the eye (``screen_px_to_deg``), not a flat px/deg.
    """
    if len(targets_screen_px) != len(samples_per_target):
        raise InputError("validate: expected one sample array per target")
    per = []
    for target, samples in zip(np.asarray(targets_screen_px, float), samples_per_target):
        s = np.asarray(samples, float).reshape(-1, 2)
        s = s[np.all(np.isfinite(s), axis=1)]
        if len(s) < 2:
            per.append(TargetQuality(tuple(target), np.nan, np.nan, np.nan, len(s)))
            continue
        deg = geometry.screen_px_to_deg(s)
        target_deg = geometry.screen_px_to_deg(target[None])[0]
        s2s = np.linalg.norm(np.diff(deg, axis=0), axis=1)
        centre = deg.mean(0)
        per.append(
            TargetQuality(
                tuple(target),
                float(np.linalg.norm(centre - target_deg)),
                float(np.sqrt(np.mean(s2s**2))),
                float(np.sqrt(np.mean(np.sum((deg - centre) ** 2, axis=1)))),
                len(s),
            )
        )
    ok = [q for q in per if np.isfinite(q.accuracy_deg)]
    if not ok:
        raise InputError("validate: no target has valid gaze samples; check the tracker sees the eyes")
    acc = float(np.mean([q.accuracy_deg for q in ok]))
    return ValidationReport(
        per,
        acc,
        float(np.mean([q.precision_rms_deg for q in ok])),
        float(np.mean([q.precision_sd_deg for q in ok])),
        float(geometry.deg_to_px(acc)),
    )


class CalibrationModel:
    """An affine map from tracker coordinates to target coordinates, least squares over targets.

    Used twice: tracker display_norm -> page pixels (in-page calibration) and drift correction
    (``kind='offset'`` fits a translation only, robust with few validation points).
    """

    def __init__(self, kind: str = "affine") -> None:
        if kind not in ("affine", "offset"):
            raise InputError(f"calibration kind: expected 'affine' or 'offset', got {kind!r}")
        self.kind = kind
        self.matrix = np.array([[1.0, 0, 0], [0, 1.0, 0]])

    def fit(self, measured: np.ndarray, targets: np.ndarray) -> CalibrationModel:
        m = np.asarray(measured, float).reshape(-1, 2)
        t = np.asarray(targets, float).reshape(-1, 2)
        keep = np.all(np.isfinite(m), axis=1) & np.all(np.isfinite(t), axis=1)
        m, t = m[keep], t[keep]
        need = 3 if self.kind == "affine" else 1
        if len(m) < need:
            raise InputError(f"calibration: a {self.kind} fit needs at least {need} targets with valid gaze, got {len(m)}")
        if self.kind == "offset":
            shift = np.median(t - m, axis=0)
            self.matrix = np.array([[1.0, 0, shift[0]], [0, 1.0, shift[1]]])
        else:
            a = np.hstack([m, np.ones((len(m), 1))])
            solution, *_ = np.linalg.lstsq(a, t, rcond=None)
            self.matrix = solution.T
        return self

    def apply(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float)
        flat = xy.reshape(-1, 2)
        out = flat @ self.matrix[:, :2].T + self.matrix[:, 2]
        return out.reshape(xy.shape)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "matrix": self.matrix.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> CalibrationModel:
        model = cls(data.get("kind", "affine"))
        model.matrix = np.asarray(data["matrix"], float).reshape(2, 3)
        return model
