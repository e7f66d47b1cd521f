"""A simulated clinician reading a fundus photograph (built on the gaze simulator).

Readers scan the field of view systematically and dwell on findings. Here: a serpentine scan of
exploratory fixations over the FOV; each true microaneurysm is dwelt on with probability
``p_lesion``; distractors (haemorrhages, exudates from the colour annotation, vessel crossings)
with probability ``p_distractor``. The device (tracker preset) adds its accuracy and noise; the
recording is raw samples, and fixations come from I-DT like for a real tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import Fixation, GazeSamples
from gazeseg.gaze.fixations import idt
from gazeseg.gaze.simulator import GazeSimulator
from gazeseg.gaze.transforms import to_image_px


@dataclass
class Reading:
    samples: GazeSamples
    """Raw samples in image px of the full-resolution fundus."""
    fixations: list[Fixation]
    px_per_deg: float
    lesion_targets: int
    distractor_targets: int


def _component_centres(mask: np.ndarray) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return np.zeros((0, 2))
    centres = ndi.center_of_mass(mask, labels, range(1, n + 1))
    return np.array([(c, r) for r, c in centres], float)


def simulate_reading(
    image_hw: tuple[int, int],
    fov: np.ndarray,
    lesions: np.ndarray,
    distractors: np.ndarray | None = None,
    *,
    preset: str = "tobii-pro-nano",
    p_lesion: float = 0.8,
    p_distractor: float = 0.3,
    scan_step_deg: float = 4.0,
    geometry: ViewingGeometry | None = None,
    rng: np.random.Generator | int | None = None,
) -> Reading:
    """``fov``/``lesions``/``distractors`` are masks at ``image_hw`` (or coarser: they are rescaled)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    h, w = image_hw
    geometry = geometry or ViewingGeometry()
    viewport = Viewport.fit(w, h, geometry)
    ppd = viewport.image_px_per_deg(geometry)
    sy, sx = h / fov.shape[0], w / fov.shape[1]

    step = scan_step_deg * ppd
    ys = np.arange(step / 2, h, step)
    scan = []
    for i, y in enumerate(ys):
        xs = np.arange(step / 2, w, step)
        for x in (xs if i % 2 == 0 else xs[::-1]):
            jitter = rng.normal(0, 0.25 * step, 2)
            px, py = x + jitter[0], y + jitter[1]
            r, c = int(np.clip(py / sy, 0, fov.shape[0] - 1)), int(np.clip(px / sx, 0, fov.shape[1] - 1))
            if fov[r, c]:
                scan.append((px, py, float(np.exp(rng.normal(np.log(0.22), 0.4)))))
    lesion_xy = _component_centres(lesions) * [w / lesions.shape[1], h / lesions.shape[0]]
    looked = lesion_xy[rng.random(len(lesion_xy)) < p_lesion]
    extra = []
    for x, y in looked:
        extra.append((x, y, float(rng.uniform(0.35, 0.8))))
    n_distractors = 0
    if distractors is not None and distractors.any():
        d_xy = _component_centres(distractors) * [w / distractors.shape[1], h / distractors.shape[0]]
        chosen = d_xy[rng.random(len(d_xy)) < p_distractor]
        n_distractors = len(chosen)
        extra += [(x, y, float(rng.uniform(0.25, 0.6))) for x, y in chosen]
    # Findings are looked at when the scan passes near them: merge by scan order.
    targets = list(scan)
    for x, y, d in extra:
        if not targets:
            targets.append((x, y, d))
            continue
        nearest = int(np.argmin([(tx - x) ** 2 + (ty - y) ** 2 for tx, ty, _ in targets]))
        targets.insert(nearest + 1, (x, y, d))
    sim = GazeSimulator(preset, geometry, viewport, rng=rng)
    arr = np.array(targets, float).reshape(-1, 3)
    samples, _ = sim.scanpath(arr[:, :2], dwell_s=arr[:, 2].tolist())
    image_samples = to_image_px(samples, geometry, viewport)
    fixations = idt(image_samples, px_per_deg=ppd, dispersion_deg=1.0, min_duration_s=0.1)
    return Reading(image_samples, fixations, ppd, len(looked), n_distractors)
