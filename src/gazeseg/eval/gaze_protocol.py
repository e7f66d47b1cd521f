"""The gaze protocol: a simulated user looks at each object, a strategy turns the gaze into
prompts, the engine answers; the user keeps looking at what is wrong until the mask is right.

Per object (image fitted to a simulated screen, tracker preset, rng seeded per object):
1. the simulated eye lands on the object (``GazeSimulator.landing_point`` on the ground truth:
   near its centre, scattered like real viewers) and dwells there for ``dwell_s``;
2. the strategy turns those samples into prompts and picks a candidate; IoU is recorded
   ("IoU after the first fixation");
3. while IoU < ``stop_iou`` and fewer than ``max_looks`` looks: the user looks at the centre of
   the largest error region (the standard click protocol's rule, ``gazeseg.eval.clicks``).
   A missed part (false negative) is a positive look: the look is confirmed with a key, as in
   GazeSAM. A false part (false positive) cannot be "looked away": the user looks at it and
   presses a reject key, and that look becomes a negative point. Each look's prompt is frozen
   when confirmed, and the previous mask's logits are fed back, as a real tool does.
Both strategies of a comparison get the same first gaze sequence (same seed); later looks
depend on each strategy's own mistakes.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples, PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.eval.clicks import next_click
from gazeseg.eval.metrics import iou
from gazeseg.eval.time_model import Interaction
from gazeseg.gaze.implicit_calibration import ImplicitRecalibration
from gazeseg.prompts.base import PromptStrategy


@dataclass
class GazeTrace:
    """One object's run: IoU after each look and what the time model needs about each look."""

    ious: list[float] = field(default_factory=list)
    looks: list[Interaction] = field(default_factory=list)
    targets_xy: list[tuple[float, float]] = field(default_factory=list)
    decodes: int = 0
    no_prompt_looks: int = 0
    screen_px_per_deg: float = 0.0
    masks: list[np.ndarray] = field(default_factory=list, repr=False)
    gaze_xy: list[np.ndarray] = field(default_factory=list, repr=False)
    prompt_points: list[np.ndarray] = field(default_factory=list, repr=False)
    first_look_screen_xy: np.ndarray | None = None
    """The first look's raw gaze centre (screen px, before any correction): what implicit
    recalibration pairs with the accepted mask."""
    final_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def first_iou(self) -> float:
        return self.ious[0] if self.ious else 0.0


def object_seed(seed: int, name: str) -> int:
    """A per-object seed that does not depend on the order objects are run in."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2**32)


def region_width(region: np.ndarray, xy: tuple[float, float]) -> float:
    """Twice the distance (image px) from ``xy`` to the edge of ``region``: the Fitts target width."""
    from scipy import ndimage as ndi

    if not region.any():
        return 1.0
    dist = ndi.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    r = min(int(xy[1]), region.shape[0] - 1)
    c = min(int(xy[0]), region.shape[1] - 1)
    return max(1.0, 2.0 * float(dist[r, c]))


def run_gaze_protocol(
    engine: Engine,
    embedding: Embedding,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    strategy: PromptStrategy,
    *,
    preset: str = "tobii-pro-nano",
    seed: int = 0,
    max_looks: int = 5,
    stop_iou: float | None = 0.9,
    dwell_s: float = 0.3,
    geometry: ViewingGeometry | None = None,
    keep_masks: bool = False,
    session_offset_screen_px: np.ndarray | None = None,
    recalibration: ImplicitRecalibration | None = None,
) -> GazeTrace:
    """Simulate one annotator segmenting the object ``gt`` by gaze with ``strategy``.

    ``session_offset_screen_px``: the tracker's systematic offset for a whole sitting (else the
    simulator draws one per object); ``recalibration``: a correction learnt on earlier objects,
    applied to the raw gaze before the strategy sees it.
    """
    from gazeseg.gaze.simulator import GazeSimulator
    from gazeseg.gaze.transforms import to_image_px, to_screen_px

    gt = np.asarray(gt, bool)
    if not gt.any():
        raise ValueError("run_gaze_protocol: the ground-truth mask is empty")
    geometry = geometry or ViewingGeometry()
    h, w = embedding.image_hw
    viewport = Viewport.fit(w, h, geometry)
    px_per_deg = viewport.image_px_per_deg(geometry)
    simulator = GazeSimulator(preset, geometry, viewport, rng=np.random.default_rng(seed))
    if session_offset_screen_px is not None:
        simulator.offset_screen_px = np.asarray(session_offset_screen_px, float).reshape(2)
    trace = GazeTrace(screen_px_per_deg=geometry.px_per_deg)
    valid = np.ones_like(gt) if ignore is None else ~np.asarray(ignore, bool)

    confirmed = PromptSet()
    logits = None
    mask = np.zeros_like(gt)
    target = np.asarray(simulator.landing_point(gt), float).reshape(2)
    label = 1
    region = gt
    for _ in range(max_looks):
        samples, _intended = simulator.scanpath(target[None], dwell_s=dwell_s)
        screen = to_screen_px(samples, geometry)
        if trace.first_look_screen_xy is None:
            trace.first_look_screen_xy = dwell_centre(screen)
        if recalibration is not None:
            screen = recalibration.apply(screen)
        look = to_image_px(screen, geometry, viewport)
        if keep_masks:
            trace.gaze_xy.append(look.xy[look.valid])
        start = time.perf_counter()
        if label == 1:
            result = strategy.segment(
                engine, embedding, look, px_per_deg=px_per_deg,
                corrections=None if confirmed.is_empty else confirmed, previous_logits=logits,
            )
            new_points = None
            if result is not None:
                trace.decodes += result.decodes
                new_points = result.prompts.points_xy[len(confirmed.points_xy):]
                confirmed = confirmed.with_points(new_points, np.ones(len(new_points), int))
                mask, logits = result.mask, result.logits
        else:
            prompts = strategy.build(look, px_per_deg=px_per_deg, image_hw=(h, w))
            new_points = None if prompts is None else prompts.points_xy[-1:]
            if new_points is not None:
                confirmed = confirmed.with_points(new_points, [0])
                prediction = engine.predict(embedding, PromptSet(confirmed.points_xy, confirmed.labels, None, logits), multimask=False)
                trace.decodes += 1
                mask, logits = prediction.best_mask, prediction.low_res_logits[prediction.best_index]
        engine_s = time.perf_counter() - start
        if new_points is None:
            trace.no_prompt_looks += 1
        screen = viewport.image_to_screen(target[None])[0]
        trace.looks.append(Interaction(float(screen[0]), float(screen[1]), region_width(region, tuple(target)) * viewport.scale, label, engine_s, dwell_s))
        trace.targets_xy.append((float(target[0]), float(target[1])))
        trace.ious.append(iou(mask, gt, ignore))
        if keep_masks:
            trace.masks.append(mask.copy())
            trace.prompt_points.append(confirmed.points_xy.copy())
        if stop_iou is not None and trace.ious[-1] >= stop_iou:
            break
        step = next_click(mask, gt, ignore)
        if step is None:
            break
        (x, y), label = step
        target = np.array([x + 0.5, y + 0.5])
        region = (gt & ~mask & valid) if label == 1 else (mask & ~gt & valid)
    trace.final_mask = mask
    return trace


def dwell_centre(look: GazeSamples) -> np.ndarray:
    """Median of a look's valid samples after its first third (the saccade that brought the eye
    there comes first); NaN when the tracker lost the eye for the whole look."""
    ok = np.asarray(look.valid, bool) & np.all(np.isfinite(look.xy), axis=1)
    ok[: len(ok) // 3] = False
    return np.median(look.xy[ok], axis=0) if ok.any() else np.full(2, np.nan)
