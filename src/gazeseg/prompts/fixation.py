"""Our gaze prompt strategy: prompts from fixations only, and a mask chosen by where the gaze fell.

Why each step:
- Only fixations (dwell >= ``min_dwell_s``) become prompts: raw samples include saccades, blinks
  and tracker noise that GazeSAM's "latest sample" rule passes straight to the engine.
- A fixation's point is the median of its samples, robust to outliers inside the fixation.
- Fixations within ``merge_deg`` of each other look at the same spot of the same object: they are
  merged into one point (a duration-weighted median), which averages their noise.
- The candidate mask is the one that best explains the gaze: people land near the centre of the
  object they look at (the "preferred viewing location", Nuthmann & Henderson 2010, J. Vision
  10(8):20; Foulsham & Kingstone 2013), spread by the tracker's error. A candidate whose centroid
  is far from the fixation, relative to its size plus the tracker's accuracy, is unlikely to be
  the object looked at, whatever the engine's score.
- When no candidate explains the fixation (the point fell just off a small object, as a coarse
  or offset tracker makes it do), the engine is probed at points on a ring of the device's
  accuracy radius around the fixation and the best-explaining answer is kept: the point is
  "snapped" to the most likely object pixel using only the engine's masks, never ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples, MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.prompts.base import PromptStrategy, Segmentation, add_corrections, register_strategy, valid_image_points


@dataclass(frozen=True)
class GazeTarget:
    """One place the user looked at: robust centre (x, y) in image px, total dwell (s), spread (px)."""

    x: float
    y: float
    dwell_s: float
    spread_px: float

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])


def detect_targets(
    gaze: GazeSamples,
    *,
    px_per_deg: float,
    image_hw: tuple[int, int],
    min_dwell_s: float = 0.1,
    dispersion_deg: float = 1.0,
    merge_deg: float = 1.5,
) -> list[GazeTarget]:
    """Fixations (I-DT) of an image-px gaze trace, merged into the distinct places looked at, in time order."""
    if not (px_per_deg > 0 and np.isfinite(px_per_deg)):
        raise InputError(f"px_per_deg: expected a positive number of image pixels per degree, got {px_per_deg!r}")
    if len(valid_image_points(gaze, image_hw)) < 2:  # also the frame check, with a clear message
        return []
    from gazeseg.gaze.fixations import idt

    fixations = idt(gaze, px_per_deg=px_per_deg, dispersion_deg=dispersion_deg, min_duration_s=min_dwell_s)
    ok = np.asarray(gaze.valid, bool) & np.all(np.isfinite(gaze.xy), axis=1)
    h, w = image_hw
    groups: list[tuple[list[np.ndarray], list[float]]] = []
    centres: list[np.ndarray] = []
    merge_px = merge_deg * px_per_deg
    for fixation in fixations:
        if fixation.duration_s < min_dwell_s:
            continue
        inside = ok & (gaze.t_s >= fixation.start_s - 1e-9) & (gaze.t_s <= fixation.end_s + 1e-9)
        samples = gaze.xy[inside] if inside.any() else fixation.xy[None]
        centre = np.median(samples, axis=0)
        if not (-0.1 * w <= centre[0] <= 1.1 * w and -0.1 * h <= centre[1] <= 1.1 * h):
            continue  # looked off the image: no prompt
        centre = np.clip(centre, [0.0, 0.0], [w - 1e-3, h - 1e-3])
        for i, other in enumerate(centres):
            if np.hypot(*(centre - other)) <= merge_px:
                groups[i][0].append(samples)
                groups[i][1].append(fixation.duration_s)
                centres[i] = _weighted_median(groups[i])
                break
        else:
            groups.append(([samples], [fixation.duration_s]))
            centres.append(centre)
    targets = []
    for (blocks, durations), centre in zip(groups, centres):
        allxy = np.concatenate(blocks)
        spread = float(np.sqrt(np.mean(np.sum((allxy - centre) ** 2, axis=1)))) if len(allxy) > 1 else 0.0
        targets.append(GazeTarget(float(centre[0]), float(centre[1]), float(sum(durations)), spread))
    return targets


def _weighted_median(group: tuple[list[np.ndarray], list[float]]) -> np.ndarray:
    """Per-axis median of fixation medians, each repeated in proportion to its duration."""
    blocks, durations = group
    medians = np.array([np.median(b, axis=0) for b in blocks])
    weights = np.maximum(1, np.round(np.array(durations) / 0.02)).astype(int)
    return np.median(np.repeat(medians, weights, axis=0), axis=0)


def gaze_consistency(mask: np.ndarray, target: GazeTarget, *, sigma_px: float, pvl_spread: float = 0.3) -> float:
    """How well "the user looked at this mask" explains a fixation at ``target``, 0..1.

    A Gaussian landing model: centred on the mask's centroid, with a spread of ``pvl_spread``
    times the mask's radius (viewing-position scatter) plus ``sigma_px`` (tracker error).
    """
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return 0.0
    cy, cx = rows.mean(), cols.mean()
    radius = np.sqrt(len(rows) / np.pi)
    inside = bool(mask[min(int(target.y), mask.shape[0] - 1), min(int(target.x), mask.shape[1] - 1)])
    var = (pvl_spread * radius) ** 2 + sigma_px**2 + target.spread_px**2
    d2 = (cx - target.x) ** 2 + (cy - target.y) ** 2
    if inside:  # landing anywhere inside a large object is plausible: do not punish off-centre looks too hard
        d2 = min(d2, var)
    return float(np.exp(-0.5 * d2 / var))


@register_strategy("fixation")
class FixationStrategy(PromptStrategy):
    """Fixation-based prompts with gaze-guided candidate choice and accuracy-radius snapping.

    accuracy_deg: the tracker's accuracy (systematic error, degrees), e.g. 0.3 for a Tobii Pro
    Nano, 2-4 for a webcam; min_dwell_s: dwell threshold for a fixation to count; merge_deg:
    fixations closer than this become one point; probe: snap by probing the engine on a ring of
    the accuracy radius when no candidate explains the fixation (costs up to ``ring`` decodes);
    score_weight: exponent on the engine's own score in the choice.
    """

    name = "fixation"

    def __init__(
        self,
        accuracy_deg: float = 0.5,
        *,
        min_dwell_s: float = 0.1,
        dispersion_deg: float = 1.0,
        merge_deg: float = 1.5,
        probe: bool = True,
        ring: int = 6,
        explain_threshold: float = 0.5,
        score_weight: float = 1.0,
    ) -> None:
        if not accuracy_deg > 0:
            raise InputError(f"accuracy_deg: expected a positive angle in degrees, got {accuracy_deg!r}")
        self.accuracy_deg = float(accuracy_deg)
        self.min_dwell_s = float(min_dwell_s)
        self.dispersion_deg = float(dispersion_deg)
        self.merge_deg = float(max(merge_deg, accuracy_deg))
        self.probe = bool(probe)
        self.ring = int(ring)
        self.explain_threshold = float(explain_threshold)
        self.score_weight = float(score_weight)

    def targets(self, gaze: GazeSamples, *, px_per_deg: float, image_hw: tuple[int, int]) -> list[GazeTarget]:
        return detect_targets(
            gaze, px_per_deg=px_per_deg, image_hw=image_hw, min_dwell_s=self.min_dwell_s,
            dispersion_deg=self.dispersion_deg, merge_deg=self.merge_deg,
        )

    def build(self, gaze: GazeSamples, *, px_per_deg: float, image_hw: tuple[int, int], corrections: PromptSet | None = None) -> PromptSet | None:
        targets = self.targets(gaze, px_per_deg=px_per_deg, image_hw=image_hw)
        if not targets:
            return None if corrections is None or corrections.is_empty else corrections
        pts = np.array([t.xy for t in targets])
        return add_corrections(PromptSet(pts, [1] * len(pts)), corrections)

    def _scores(self, prediction: MaskPrediction, targets: list[GazeTarget], px_per_deg: float) -> np.ndarray:
        sigma = self.accuracy_deg * px_per_deg
        total = sum(t.dwell_s for t in targets) or 1.0
        out = []
        for mask, score in zip(prediction.masks, prediction.scores):
            explain = sum(t.dwell_s * gaze_consistency(mask, t, sigma_px=sigma) for t in targets) / total
            out.append(explain * max(float(score), 1e-3) ** self.score_weight)
        return np.array(out)

    def choose(self, prediction: MaskPrediction, gaze: GazeSamples, *, px_per_deg: float) -> int:
        hw = prediction.masks.shape[1:]
        targets = self.targets(gaze, px_per_deg=px_per_deg, image_hw=(int(hw[0]), int(hw[1])))
        if not targets or len(prediction.masks) == 1:
            return prediction.best_index
        return int(np.argmax(self._scores(prediction, targets, px_per_deg)))

    def segment(
        self,
        engine: Engine,
        embedding: Embedding,
        gaze: GazeSamples,
        *,
        px_per_deg: float,
        corrections: PromptSet | None = None,
        previous_logits: np.ndarray | None = None,
    ) -> Segmentation | None:
        image_hw = embedding.image_hw
        targets = self.targets(gaze, px_per_deg=px_per_deg, image_hw=image_hw)
        if not targets:
            if corrections is None or corrections.is_empty:
                return None
            return super().segment(engine, embedding, gaze, px_per_deg=px_per_deg, corrections=corrections, previous_logits=previous_logits)
        pts = np.array([t.xy for t in targets])
        prompts = add_corrections(PromptSet(pts, [1] * len(pts)), corrections)
        if previous_logits is not None or len(prompts.points_xy) > 1:
            # Refinement: every look so far plus the previous mask, one answer.
            if previous_logits is not None:
                prompts = PromptSet(prompts.points_xy, prompts.labels, None, previous_logits)
            prediction = engine.predict(embedding, prompts, multimask=previous_logits is None)
            index = self.choose(prediction, gaze, px_per_deg=px_per_deg) if previous_logits is None else prediction.best_index
            return Segmentation(prompts, prediction, index)
        prediction = engine.predict(embedding, prompts, multimask=True)
        scores = self._scores(prediction, targets, px_per_deg)
        best = Segmentation(prompts, prediction, int(np.argmax(scores)))
        best_explain = self._explained(best.mask, targets, px_per_deg)
        if not self.probe or best_explain >= self.explain_threshold:
            return best
        # Snap: probe the engine on a ring of the accuracy radius; keep the best-explaining answer.
        h, w = image_hw
        radius = self.accuracy_deg * px_per_deg
        decodes = 1
        best_value = float(scores.max())
        for angle in np.linspace(0, 2 * np.pi, self.ring, endpoint=False):
            probe = targets[0].xy + radius * np.array([np.cos(angle), np.sin(angle)])
            probe = np.clip(probe, [0.0, 0.0], [w - 1e-3, h - 1e-3])
            probe_prompts = add_corrections(PromptSet(probe[None], [1]), corrections)
            prediction = engine.predict(embedding, probe_prompts, multimask=True)
            decodes += 1
            probe_scores = self._scores(prediction, targets, px_per_deg)
            k = int(np.argmax(probe_scores))
            if probe_scores[k] > best_value:
                best_value = float(probe_scores[k])
                best = Segmentation(probe_prompts, prediction, k)
        return Segmentation(best.prompts, best.prediction, best.index, decodes)

    def _explained(self, mask: np.ndarray, targets: list[GazeTarget], px_per_deg: float) -> float:
        sigma = self.accuracy_deg * px_per_deg
        total = sum(t.dwell_s for t in targets) or 1.0
        return sum(t.dwell_s * gaze_consistency(mask, t, sigma_px=sigma) for t in targets) / total
