"""A gaze simulator that produces raw sample streams as a real tracker would.

Where the numbers come from:
- fixation durations: log-normal fitted to 98,321 REAL fixations of 15 viewers on 700 OSIE
  images (Xu et al. 2014; ``benchmarks/fit_simulator.py``): median 0.191 s, sigma 0.508;
- saccades: the main sequence, duration = 21 ms + 2.2 ms/deg (Carpenter 1988), minimum-jerk path;
- where the eye lands on an object: near its centre, spread about 0.2 of its extent (the
  preferred viewing location; Nuthmann & Henderson 2010, J. Vision 10(8):20); OSIE has no masks,
  and a proxy measured on it (``benchmarks/fit_simulator.py``) is reported, not used;
- free viewing (``GazeSimulator.free_viewing``): saccade amplitudes and the centre bias fitted to
  the same OSIE fixations, in fractions of the image (OSIE's viewing geometry is not published
  with the data), see ``OSIE_FREE_VIEWING``;
- devices: accuracy (a per-session systematic offset), precision (RMS sample-to-sample noise),
  dropouts and blinks from the vendors' data sheets (Tobii Pro Nano / Spectrum product
  specifications) and, for webcams, WebGazer's reported error (Papoutsaki et al. 2016, ~4 deg).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import Fixation, GazeSamples

OSIE_DURATION_MEDIAN_S = 0.191
OSIE_DURATION_SIGMA = 0.508
LANDING_SPREAD = 0.2


@dataclass(frozen=True)
class FreeViewingParams:
    """How a free viewer picks the next landing point; lengths are fractions of the image.

    The amplitude is drawn first, Gamma(``amplitude_shape``, ``amplitude_scale`` image widths),
    so OSIE's long saccades survive; the direction is then one of ``directions`` random ones,
    chosen with probability proportional to a centre-bias Gaussian (mean ``centre_xy``, SD
    ``centre_sd``, in fractions of width and height) at the landing point, and never off the
    image. Why not a plain Gaussian of positions: successive OSIE fixations are close (median
    0.13 image widths), independent draws would be 2-3x too far apart.
    """

    amplitude_shape: float
    amplitude_scale: float
    centre_xy: tuple[float, float]
    centre_sd: tuple[float, float]
    directions: int = 8

    def __post_init__(self) -> None:
        values = (self.amplitude_shape, self.amplitude_scale, *self.centre_sd)
        if not all(np.isfinite(v) and v > 0 for v in values) or not np.all(np.isfinite(self.centre_xy)) or self.directions < 1:
            raise InputError(f"FreeViewingParams: expected positive shape, scale, SDs and directions >= 1, got {self}")


# Fitted to 87,820 REAL OSIE saccades and 98,321 fixations by simulated moments (3 s trials, as
# OSIE's, starting at the image centre); regenerate with ``python benchmarks/fit_simulator.py``.
OSIE_FREE_VIEWING = FreeViewingParams(
    amplitude_shape=1.064, amplitude_scale=0.175, centre_xy=(0.504, 0.463), centre_sd=(0.214, 0.193)
)


def next_landings(
    current_xy: np.ndarray,
    image_wh: tuple[int, int],
    params: FreeViewingParams,
    rng: np.random.Generator,
) -> np.ndarray:
    """Next landing point (image px, (M, 2)) for each of M viewers at ``current_xy`` (image px).

    Vectorised so the fit can run thousands of viewers at once; see ``FreeViewingParams``.
    """
    cur = np.atleast_2d(np.asarray(current_xy, float))
    size = np.array(image_wh, float)
    mean = np.array(params.centre_xy) * size
    sd = np.array(params.centre_sd) * size
    out = cur.copy()
    todo = np.arange(len(cur))
    for _ in range(20):  # redraw the amplitude when no direction stays on the image
        if not len(todo):
            break
        r = rng.gamma(params.amplitude_shape, params.amplitude_scale, (len(todo), 1)) * size[0]
        angle = rng.uniform(0.0, 2.0 * np.pi, (len(todo), params.directions))
        cand = cur[todo, None, :] + np.stack([r * np.cos(angle), r * np.sin(angle)], axis=-1)
        inside = np.all((cand >= 0) & (cand < size), axis=-1)
        weight = np.exp(-0.5 * np.sum(((cand - mean) / sd) ** 2, axis=-1)) * inside
        total = weight.sum(axis=1)
        ok = total > 0
        cum = np.cumsum(weight[ok], axis=1) / total[ok, None]
        pick = np.minimum((rng.random((int(ok.sum()), 1)) >= cum).sum(axis=1), params.directions - 1)
        out[todo[ok]] = cand[ok][np.arange(int(ok.sum())), pick]
        todo = todo[~ok]
    return out


def saccade_duration_s(amplitude_deg: float | np.ndarray) -> float | np.ndarray:
    """Main sequence (Carpenter 1988): 21 ms + 2.2 ms per degree."""
    return 0.021 + 0.0022 * amplitude_deg


@dataclass(frozen=True)
class DevicePreset:
    """What a tracker adds to where the eye really points."""

    name: str
    sampling_rate_hz: float
    accuracy_deg: float
    """Mean systematic offset (per session) in degrees."""
    precision_deg: float
    """RMS sample-to-sample noise in degrees."""
    dropout_rate: float = 0.0
    """Fraction of samples lost at random (tracking loss)."""
    blink_rate_hz: float = 0.0
    """Blinks per second (people blink ~0.2-0.3 /s while reading images)."""
    latency_s: float = 0.0


PRESETS: dict[str, DevicePreset] = {
    "tobii-pro-nano": DevicePreset("tobii-pro-nano", 60.0, 0.3, 0.10, dropout_rate=0.01, blink_rate_hz=0.25, latency_s=0.017),
    "tobii-pro-spectrum": DevicePreset("tobii-pro-spectrum", 1200.0, 0.3, 0.06, dropout_rate=0.005, blink_rate_hz=0.25, latency_s=0.003),
    "webcam": DevicePreset("webcam", 30.0, 4.0, 1.0, dropout_rate=0.05, blink_rate_hz=0.25, latency_s=0.05),
    "mouse": DevicePreset("mouse", 60.0, 0.0, 0.0),
}


def get_preset(preset: str | DevicePreset) -> DevicePreset:
    if isinstance(preset, DevicePreset):
        return preset
    if preset not in PRESETS:
        raise InputError(f"gaze preset: unknown '{preset}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


class GazeSimulator:
    """A simulated viewer plus tracker looking at an image shown at ``viewport`` on a screen."""

    def __init__(
        self,
        preset: str | DevicePreset,
        geometry: ViewingGeometry,
        viewport: Viewport,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.preset = get_preset(preset)
        self.geometry = geometry
        self.viewport = viewport
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        angle = self.rng.uniform(0, 2 * np.pi)
        magnitude = self.preset.accuracy_deg * self.rng.uniform(0.5, 1.5)
        self.offset_screen_px = geometry.deg_to_px(magnitude) * np.array([np.cos(angle), np.sin(angle)])
        self._eye_screen: np.ndarray | None = None
        self._t = 0.0

    # -- behaviour -----------------------------------------------------------------------
    def fixation_duration(self) -> float:
        return float(OSIE_DURATION_MEDIAN_S * np.exp(OSIE_DURATION_SIGMA * self.rng.standard_normal()))

    def landing_point(self, mask: np.ndarray) -> np.ndarray:
        """Where a first look at the object ``mask`` lands (image px): near its centre, on it."""
        mask = np.asarray(mask, bool)
        if not mask.any():
            raise InputError("landing_point: the object mask is empty")
        rows, cols = np.nonzero(mask)
        centre = np.array([cols.mean(), rows.mean()])
        extent = np.array([np.ptp(cols) + 1, np.ptp(rows) + 1], float)
        depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        body = depth >= 0.25 * depth.max()  # people look at an object's body, not at its rim
        for _ in range(20):
            point = centre + self.rng.standard_normal(2) * LANDING_SPREAD * extent
            c, r = int(round(point[0])), int(round(point[1]))
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and body[r, c]:
                break
        else:  # a concave object whose centre is off it: land near its deepest point instead
            r0, c0 = np.unravel_index(int(np.argmax(depth)), depth.shape)
            spread = 0.5 * depth.max()
            r = int(np.clip(round(r0 + self.rng.normal(0, spread)), 0, mask.shape[0] - 1))
            c = int(np.clip(round(c0 + self.rng.normal(0, spread)), 0, mask.shape[1] - 1))
            if not body[r, c]:
                r, c = int(r0), int(c0)
        return np.array([c + 0.5, r + 0.5])

    def free_viewing_targets(
        self,
        duration_s: float = 3.0,
        *,
        start_xy: np.ndarray | Sequence[float] | None = None,
        params: FreeViewingParams = OSIE_FREE_VIEWING,
    ) -> tuple[np.ndarray, list[float]]:
        """Landing points (image px, (N, 2)) and dwells (s) of ``duration_s`` of free viewing.

        The eye starts at ``start_xy`` (image px; default the image centre: OSIE's first recorded
        fixations lie around it, where viewers looked before each image is not in the data) and
        the first saccade leaves at once. Saccade times follow the
        main sequence at this simulator's geometry and zoom; the last dwell is cut at
        ``duration_s``, as when a stimulus goes off.
        """
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise InputError(f"duration_s: expected a positive number of seconds, got {duration_s!r}")
        size = (self.viewport.image_w, self.viewport.image_h)
        eye = np.array([size[0] / 2, size[1] / 2], float) if start_xy is None else np.asarray(start_xy, float).reshape(2)
        targets, dwells, t = [], [], 0.0
        while t < duration_s:
            goal = next_landings(eye[None], size, params, self.rng)[0]
            amplitude_deg = float(self.geometry.px_to_deg(np.hypot(*(goal - eye)) * self.viewport.scale))
            t += saccade_duration_s(amplitude_deg) if amplitude_deg > 0.5 else 0.0
            dwell = min(self.fixation_duration(), duration_s - t)
            if dwell <= 0:
                break
            targets.append(goal)
            dwells.append(dwell)
            t += dwell
            eye = goal
        return np.array(targets, float).reshape(-1, 2), dwells

    def free_viewing(
        self,
        duration_s: float = 3.0,
        *,
        start_xy: np.ndarray | Sequence[float] | None = None,
        params: FreeViewingParams = OSIE_FREE_VIEWING,
    ) -> tuple[GazeSamples, list[Fixation]]:
        """Raw samples of a viewer exploring the image freely for ``duration_s`` (one OSIE trial).

        Durations, saccade amplitudes and landing positions are drawn from the OSIE fits; the
        device model is ``scanpath``'s. Returns the samples (display_norm) and the intended
        fixations (image px).
        """
        start = np.array([self.viewport.image_w / 2, self.viewport.image_h / 2]) if start_xy is None else np.asarray(start_xy, float)
        targets, dwells = self.free_viewing_targets(duration_s, start_xy=start, params=params)
        start_screen = self.viewport.image_to_screen(start.reshape(1, 2))[0]
        return self.scanpath(targets, dwells, start_xy=start_screen)

    # -- signal -------------------------------------------------------------------------
    def scanpath(
        self,
        targets_xy: np.ndarray,
        dwell_s: float | Sequence[float] | None = None,
        *,
        start_xy: np.ndarray | Sequence[float] | None = None,
    ) -> tuple[GazeSamples, list[Fixation]]:
        """Raw samples (display_norm, as a tracker gives) of looking at each target in turn.

        ``targets_xy`` are image pixels; ``dwell_s`` one duration for all, one per target, or
        None to draw OSIE-like durations; ``start_xy`` (screen px) where the eye starts (else
        where the last scanpath ended, else the screen centre). Also returns the intended
        fixations in image px, the ground truth for detectors.
        """
        targets = np.atleast_2d(np.asarray(targets_xy, float))
        if targets.shape[1] != 2:
            raise InputError(f"targets_xy: expected (N, 2) image pixels, got shape {targets.shape}")
        if dwell_s is None:
            dwells = [self.fixation_duration() for _ in targets]
        elif np.isscalar(dwell_s):
            dwells = [float(dwell_s)] * len(targets)  # type: ignore[arg-type]
        else:
            dwells = [float(d) for d in dwell_s]  # type: ignore[union-attr]
            if len(dwells) != len(targets):
                raise InputError(f"dwell_s: expected {len(targets)} durations, got {len(dwells)}")
        g = self.geometry
        dt = 1.0 / self.preset.sampling_rate_hz
        eye = (
            np.asarray(start_xy, float)
            if start_xy is not None
            else self._eye_screen if self._eye_screen is not None else np.array([g.screen_w_px / 2, g.screen_h_px / 2])
        )
        times, points, intended = [], [], []
        t = self._t
        for target, dwell in zip(targets, dwells):
            goal = self.viewport.image_to_screen(target[None])[0]
            amplitude = float(g.px_to_deg(np.hypot(*(goal - eye))))
            if amplitude > 0.5:
                duration = saccade_duration_s(amplitude)
                n = max(1, int(round(duration / dt)))
                for k in range(n):
                    s = (k + 1) / n
                    s = 10 * s**3 - 15 * s**4 + 6 * s**5  # minimum-jerk profile
                    times.append(t)
                    points.append(eye + s * (goal - eye))
                    t += dt
            start = t
            n = max(1, int(round(dwell / dt)))
            drift = np.cumsum(self.rng.standard_normal((n, 2)), axis=0) * g.deg_to_px(0.02) * np.sqrt(dt / 0.01)
            for k in range(n):
                times.append(t)
                points.append(goal + drift[k])
                t += dt
            intended.append(Fixation(start_s=start, end_s=t - dt, x=float(target[0]), y=float(target[1]), frame="image_px", n_samples=n))
            eye = goal
        self._eye_screen, self._t = eye, t
        times_a = np.array(times)
        xy = np.array(points).reshape(-1, 2) + self.offset_screen_px
        noise_sd = g.deg_to_px(self.preset.precision_deg) / np.sqrt(2.0)
        xy = xy + self.rng.standard_normal(xy.shape) * noise_sd
        valid = self.rng.random(len(times_a)) >= self.preset.dropout_rate
        if self.preset.blink_rate_hz > 0 and len(times_a):
            total = times_a[-1] - times_a[0] + dt
            for _ in range(self.rng.poisson(self.preset.blink_rate_hz * total)):
                onset = self.rng.uniform(times_a[0], times_a[-1])
                length = self.rng.uniform(0.1, 0.3)
                valid &= ~((times_a >= onset) & (times_a < onset + length))
        norm = g.screen_px_to_norm(xy)
        norm[~valid] = np.nan
        samples = GazeSamples(t_s=times_a + self.preset.latency_s, xy=norm, valid=valid, frame="display_norm")
        return samples, intended
