"""REAL OSIE fixations (Xu et al. 2014, J. Vision 14(1):28) and the figures the simulator is fitted to.

OSIE: 700 images of 800x600 px, 15 viewers each, 3 s of free viewing per image; fixations as
(x, y) image px and duration (ms), as the file gives them (how they were detected is not in it).
The viewing geometry (screen, distance, degrees per pixel) is not in the data either, so lengths
stay in fractions of the image. Shared by ``benchmarks/fit_simulator.py`` and the tests, so both
measure the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation
from gazeseg.gaze.simulator import (
    OSIE_DURATION_MEDIAN_S,
    OSIE_DURATION_SIGMA,
    FreeViewingParams,
    next_landings,
    saccade_duration_s,
)

OSIE_IMAGE_WH = (800, 600)
QUANTILES = (10, 25, 50, 75, 90)
DURATION_RANGE_S = (0.04, 2.0)
"""Durations outside this are tracker artefacts (OSIE has 20 ms and 2 s fixations); the fit skips them."""


@dataclass(frozen=True)
class Scanpath:
    """One viewer's fixations on one image: ``xy`` (N, 2) image px, ``duration_s`` (N,)."""

    xy: np.ndarray
    duration_s: np.ndarray
    image: str = ""
    subject: int = -1

    @staticmethod
    def from_fixations(fixations: Sequence[Fixation], image: str = "") -> Scanpath:
        xy = np.array([[f.x, f.y] for f in fixations], float).reshape(-1, 2)
        return Scanpath(xy, np.array([f.duration_s for f in fixations], float), image)


def load_osie(path: str | Path) -> list[Scanpath]:
    """All scanpaths of OSIE's ``fixations.mat`` (one per image and viewer), in file order."""
    import scipy.io as sio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"OSIE fixations: no file at {path}; expected OSIE's fixations.mat "
            "(../shared/data/osie/fixations.mat beside the repo), pass its path"
        )
    try:
        mat = sio.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as error:  # scipy raises ValueError, TypeError or its own MatReadError
        raise InputError(f"OSIE fixations: {path} is not a readable MATLAB file ({error}); expected OSIE's fixations.mat") from error
    if "fixations" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise InputError(f"OSIE fixations: {path} has no variable 'fixations' (found {found}); expected OSIE's fixations.mat")
    out = []
    for i, entry in enumerate(np.atleast_1d(mat["fixations"])):
        if not hasattr(entry, "subjects"):
            raise InputError(f"OSIE fixations: entry {i} of {path} has no 'subjects' field; expected structs with img and subjects")
        image = str(getattr(entry, "img", i))
        for j, subject in enumerate(np.atleast_1d(entry.subjects)):
            try:
                x, y, d = (np.atleast_1d(getattr(subject, f)).astype(float) for f in ("fix_x", "fix_y", "fix_duration"))
            except AttributeError as error:
                raise InputError(f"OSIE fixations: image {image} viewer {j} lacks {error.name!r}; expected fix_x, fix_y, fix_duration") from error
            if not (len(x) == len(y) == len(d)):
                raise InputError(f"OSIE fixations: image {image} viewer {j} has {len(x)} x, {len(y)} y and {len(d)} durations; expected equal counts")
            out.append(Scanpath(np.c_[x, y], d / 1000.0, image, j))
    if not out:
        raise InputError(f"OSIE fixations: {path} holds no scanpaths")
    return out


# -- measures -----------------------------------------------------------------------------
def durations(scanpaths: Iterable[Scanpath]) -> np.ndarray:
    d = np.concatenate([s.duration_s for s in scanpaths])
    return d[(d > DURATION_RANGE_S[0]) & (d < DURATION_RANGE_S[1])]


def amplitudes(scanpaths: Iterable[Scanpath], image_w: float = OSIE_IMAGE_WH[0]) -> np.ndarray:
    """Distances between consecutive fixations, in image widths (zero-length steps dropped)."""
    a = np.concatenate([np.hypot(*np.diff(s.xy, axis=0).T) for s in scanpaths if len(s.xy) > 1] or [np.zeros(0)])
    return a[a > 0] / image_w


def positions(scanpaths: Iterable[Scanpath], image_wh: tuple[int, int] = OSIE_IMAGE_WH) -> np.ndarray:
    """All fixation positions as (x / W, y / H), (N, 2)."""
    return np.concatenate([s.xy for s in scanpaths]) / np.array(image_wh, float)


def _q(values: np.ndarray) -> dict[str, float]:
    return {str(q): float(v) for q, v in zip(QUANTILES, np.percentile(values, QUANTILES))}


@dataclass(frozen=True)
class ViewingStats:
    """What is compared between OSIE and the simulator (lengths in fractions of the image)."""

    n_scanpaths: int
    n_fixations: int
    duration_q_s: dict[str, float]
    amplitude_q: dict[str, float]
    position_mean: tuple[float, float]
    position_sd: tuple[float, float]
    fixations_per_scanpath: float
    """Median count per scanpath (per 3 s trial)."""

    def as_dict(self) -> dict:
        return asdict(self)


def viewing_stats(scanpaths: Sequence[Scanpath], image_wh: tuple[int, int] = OSIE_IMAGE_WH) -> ViewingStats:
    if not scanpaths:
        raise InputError("viewing_stats: expected at least one scanpath, got none")
    pos = positions(scanpaths, image_wh)
    return ViewingStats(
        n_scanpaths=len(scanpaths),
        n_fixations=len(pos),
        duration_q_s=_q(durations(scanpaths)),
        amplitude_q=_q(amplitudes(scanpaths, image_wh[0])),
        position_mean=(float(pos[:, 0].mean()), float(pos[:, 1].mean())),
        position_sd=(float(pos[:, 0].std()), float(pos[:, 1].std())),
        fixations_per_scanpath=float(np.median([len(s.xy) for s in scanpaths])),
    )


# -- fits ---------------------------------------------------------------------------------
def fit_durations(d: np.ndarray) -> tuple[float, float]:
    """Log-normal maximum likelihood: (median s, sigma)."""
    sigma, _, scale = stats.lognorm.fit(d, floc=0)
    return float(scale), float(sigma)


def fit_amplitude_distributions(a: np.ndarray) -> dict[str, dict]:
    """Gamma, log-normal and Weibull maximum-likelihood fits (location 0), with quantiles and KS."""
    out = {}
    for name, dist in (("gamma", stats.gamma), ("lognormal", stats.lognorm), ("weibull", stats.weibull_min)):
        params = dist.fit(a, floc=0)
        out[name] = {
            "shape": float(params[0]),
            "scale": float(params[2]),
            "quantiles": {str(q): float(dist.ppf(q / 100, *params)) for q in QUANTILES},
            "ks": float(stats.kstest(a, dist.cdf, args=params).statistic),
        }
    return out


def simulate_free_viewing(
    params: FreeViewingParams,
    *,
    n_trials: int,
    trial_s: float = 3.0,
    image_wh: tuple[int, int] = OSIE_IMAGE_WH,
    image_width_deg: float = 22.2,
    rng: np.random.Generator | int = 0,
) -> list[Scanpath]:
    """Intended fixations of ``n_trials`` viewers at once (no device, no detector): what the fit sees.

    Same behaviour as ``GazeSimulator.free_viewing``; ``image_width_deg`` only sets saccade times
    (22.2 deg: an 800 px image fitted to the default laptop screen).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    size = np.array(image_wh, float)
    cur = np.tile(size / 2, (n_trials, 1))
    t = np.zeros(n_trials)
    alive = np.ones(n_trials, bool)
    xy: list[list[np.ndarray]] = [[] for _ in range(n_trials)]
    dur: list[list[float]] = [[] for _ in range(n_trials)]
    while alive.any():
        idx = np.flatnonzero(alive)
        new = next_landings(cur[idx], image_wh, params, rng)
        amp_deg = np.hypot(*(new - cur[idx]).T) / size[0] * image_width_deg
        t[idx] += np.where(amp_deg > 0.5, saccade_duration_s(amp_deg), 0.0)  # type: ignore[arg-type]
        dwell = np.minimum(OSIE_DURATION_MEDIAN_S * np.exp(OSIE_DURATION_SIGMA * rng.standard_normal(len(idx))), trial_s - t[idx])
        for k, i in enumerate(idx):
            if dwell[k] > 0:
                xy[i].append(new[k])
                dur[i].append(float(dwell[k]))
        t[idx] += np.maximum(dwell, 0)
        cur[idx] = new
        alive[idx] = t[idx] < trial_s
    return [Scanpath(np.array(p, float).reshape(-1, 2), np.array(d)) for p, d in zip(xy, dur)]


def _moments(s: ViewingStats) -> np.ndarray:
    amp = np.log([s.amplitude_q[str(q)] for q in QUANTILES])
    return np.concatenate([amp, np.array(s.position_mean) / 0.05, np.log(s.position_sd) * 2.0])


def moment_error(stats_: ViewingStats, target: ViewingStats) -> float:
    """What the free-viewing fit minimises: squared differences of log amplitude quantiles,
    position means (in units of 0.05 of the image) and log position SDs (weighted 2)."""
    return float(np.sum((_moments(stats_) - _moments(target)) ** 2))


def calibrate_free_viewing(
    target: ViewingStats,
    *,
    start: FreeViewingParams,
    n_trials: int = 2000,
    seed: int = 0,
    max_evals: int = 200,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[FreeViewingParams, float]:
    """Fit ``FreeViewingParams`` so simulated viewers reproduce ``target``'s amplitudes and positions.

    Method of simulated moments: Nelder-Mead on log amplitude quantiles (10-90 %) and position
    mean and SD, the same random numbers in every evaluation (so the objective is smooth enough).
    Returns the parameters and the final squared error.
    """
    def unpack(v: np.ndarray) -> FreeViewingParams:
        return FreeViewingParams(
            float(np.exp(v[0])), float(np.exp(v[1])), (float(v[2]), float(v[3])),
            (float(np.exp(v[4])), float(np.exp(v[5]))), start.directions,
        )

    def loss(v: np.ndarray) -> float:
        sim = simulate_free_viewing(unpack(v), n_trials=n_trials, rng=seed)
        err = moment_error(viewing_stats(sim), target)
        calls[0] += 1
        if progress is not None:
            progress(calls[0], err)
        return err

    calls = [0]
    v0 = np.array([
        np.log(start.amplitude_shape), np.log(start.amplitude_scale), *start.centre_xy,
        np.log(start.centre_sd[0]), np.log(start.centre_sd[1]),
    ])
    result = optimize.minimize(loss, v0, method="Nelder-Mead", options={"maxfev": max_evals, "xatol": 1e-3, "fatol": 1e-5})
    return unpack(result.x), float(result.fun)


# -- landing relative to objects (a proxy: OSIE's object masks are not in the data) ------
def cross_viewer_clusters(scanpaths: Sequence[Scanpath], *, radius_px: float, min_viewers: int) -> list[np.ndarray]:
    """Groups of fixations of one image that several viewers share: indices into the pooled list.

    Average-linkage clustering cut at ``radius_px``; a group counts when at least ``min_viewers``
    different viewers fixated in it (a place many people look is likely an object).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    xy = np.concatenate([s.xy for s in scanpaths])
    who = np.concatenate([np.full(len(s.xy), k) for k, s in enumerate(scanpaths)])
    if len(xy) < 2:
        return []
    labels = fcluster(linkage(xy, "average"), t=radius_px, criterion="distance")
    groups = [np.flatnonzero(labels == lab) for lab in np.unique(labels)]
    return [g for g in groups if len(np.unique(who[g])) >= min_viewers]


def landing_offsets(points_xy: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of ``points_xy`` from the mask's centroid in units of its extent, and whether each is on it."""
    rows, cols = np.nonzero(mask)
    centre = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
    extent = np.array([np.ptp(cols) + 1, np.ptp(rows) + 1], float)
    pts = np.asarray(points_xy, float).reshape(-1, 2)
    r = np.clip(pts[:, 1].astype(int), 0, mask.shape[0] - 1)
    c = np.clip(pts[:, 0].astype(int), 0, mask.shape[1] - 1)
    return (pts - centre) / extent, mask[r, c]
