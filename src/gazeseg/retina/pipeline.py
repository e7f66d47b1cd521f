"""The retina pipeline: a reading's gaze -> regions -> prompts -> engine masks on native crops ->
domain filter -> lesion mask, score map and lesion list.

Three prompt modes reproduce GlanceSeg's comparison: ``grid`` (their baseline: a regular grid of
points inside the gaze regions), ``saliency`` (points at MA-saliency maxima inside the regions)
and ``saliency+filter`` (plus the domain-knowledge filter).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation, PromptSet
from gazeseg.engines.base import Engine
from gazeseg.gaze.heatmap import gaze_heatmap
from gazeseg.retina.disc import OpticDisc, find_optic_disc
from gazeseg.retina.filters import Candidate, FilterRules, apply_rules, measure
from gazeseg.retina.preprocess import FundusView, prepare
from gazeseg.retina.saliency import ma_saliency, salient_points
from gazeseg.retina.vessels import vessel_mask, vesselness

MODES = ("grid", "saliency", "saliency+filter")


@dataclass
class RetinaResult:
    lesion_mask: np.ndarray
    """Bool (H, W) at full resolution: kept lesions."""
    score_map: np.ndarray
    """Float32 (H, W): each candidate's score over its mask (0 elsewhere), for AUPR."""
    candidates: list[Candidate]
    gaze_map: np.ndarray
    """Analysis-resolution gaze heat map (0..1)."""
    region: np.ndarray
    disc: OpticDisc
    seconds: dict[str, float] = field(default_factory=dict)

    def lesions(self) -> list[dict]:
        return [
            {"x": c.x, "y": c.y, "area_px": int(c.mask.sum()), "score": round(c.score, 4)}
            for c in self.candidates if c.kept
        ]


@dataclass
class RetinaPipeline:
    engine: Engine
    mode: str = "saliency+filter"
    rules: FilterRules = field(default_factory=FilterRules)
    gaze_sigma_deg: float = 1.5
    region_level: float = 0.15
    crop_units: float = 24.0
    grid_step_units: float = 30.0
    saliency_threshold: float = 0.12
    max_candidates: int = 300
    engine_side: int = 256
    """Crops are enlarged to this many pixels before the engine sees them."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"retina mode: expected one of {', '.join(MODES)}, got {self.mode!r}")

    def run(self, image_rgb: np.ndarray, fixations: Sequence[Fixation], *, px_per_deg: float, view: FundusView | None = None) -> RetinaResult:
        """``fixations`` and ``px_per_deg`` in full-resolution image px."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        view = view or prepare(image_rgb)
        vessels_response = vesselness(view)
        vessels = vessel_mask(vessels_response, view.fov)
        disc = find_optic_disc(view)
        timings["preprocess"] = time.perf_counter() - t

        t = time.perf_counter()
        s = view.scale
        scaled = [Fixation(f.start_s, f.end_s, f.x * s, f.y * s, "image_px") for f in fixations]
        heat = gaze_heatmap(scaled, view.fov.shape, sigma_px=self.gaze_sigma_deg * px_per_deg * s)
        region = (heat >= self.region_level) & view.fov
        timings["gaze"] = time.perf_counter() - t

        t = time.perf_counter()
        if self.mode == "grid":
            step = max(2.0, self.grid_step_units * view.unit)
            yy, xx = np.mgrid[step / 2 : region.shape[0] : step, step / 2 : region.shape[1] : step]
            pts = np.column_stack([xx.ravel(), yy.ravel()])
            keep = region[pts[:, 1].astype(int), pts[:, 0].astype(int)]
            points = np.column_stack([pts[keep], np.ones(int(keep.sum()))])[: self.max_candidates]
            saliency = None
        else:
            saliency = ma_saliency(view, vessels_response)
            points = salient_points(saliency, region, unit=view.unit, threshold=self.saliency_threshold, max_points=self.max_candidates)
        timings["prompts"] = time.perf_counter() - t

        t = time.perf_counter()
        h, w = image_rgb.shape[:2]
        unit_full = view.unit / s
        half = int(round(self.crop_units * unit_full / 2))
        green_full = image_rgb[..., 1]
        candidates = []
        for x_a, y_a, value in points:
            x, y = x_a / s, y_a / s
            y0, x0 = max(0, int(y) - half), max(0, int(x) - half)
            y1, x1 = min(h, int(y) + half), min(w, int(x) + half)
            crop = image_rgb[y0:y1, x0:x1]
            # Engines work best at their own scale (SAM ~1024 px, classic ~320): enlarge the tiny crop.
            zoom = max(1.0, self.engine_side / max(crop.shape[:2]))
            big = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC) if zoom > 1 else crop
            embedding = self.engine.embed(big)
            point = np.array([[(x - x0) * zoom, (y - y0) * zoom]])
            pred = self.engine.predict(embedding, PromptSet(points_xy=np.clip(point, 0, [big.shape[1] - 1, big.shape[0] - 1]), labels=np.array([1])), multimask=False)
            mask = cv2.resize(pred.best_mask.astype(np.uint8), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
            if not mask.any():
                continue
            cand = Candidate(x, y, mask, (y0, x0, y1, x1), float(value), float(pred.scores[pred.best_index]))
            cand.features["gaze"] = float(heat[min(int(y_a), heat.shape[0] - 1), min(int(x_a), heat.shape[1] - 1)])
            vessel_crop = cv2.resize(vessels[int(y0 * s) : max(int(y1 * s), int(y0 * s) + 1), int(x0 * s) : max(int(x1 * s), int(x0 * s) + 1)].astype(np.uint8),
                                     (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST).astype(float)
            cand.features.update(measure(cand, green_full[y0:y1, x0:x1].astype(np.float32), vessel_crop, unit_full))
            in_disc = bool(disc.contains(np.array(x * s), np.array(y * s)))
            cand.features["in_disc"] = float(in_disc)
            candidates.append(cand)
        timings["segment"] = time.perf_counter() - t
        lesion_mask, score_map = self.assemble(candidates, (h, w))
        return RetinaResult(lesion_mask, score_map, candidates, heat, region, disc, timings)

    def assemble(self, candidates: list[Candidate], image_hw: tuple[int, int], mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score (and, with the filter, prune) candidates; paint the lesion mask and score map.

        Separate from ``run`` so the saliency modes can share one (costly) segmentation pass.
        """
        mode = mode or self.mode
        lesion_mask = np.zeros(image_hw, bool)
        score_map = np.zeros(image_hw, np.float32)
        for c in candidates:
            c.reasons = apply_rules(c, self.rules, bool(c.features.get("in_disc", 0))) if mode == "saliency+filter" else []
            c.score = self._score(c, mode)
            if not c.kept:
                continue
            y0, x0, y1, x1 = c.box
            region_scores = score_map[y0:y1, x0:x1]
            np.maximum(region_scores, np.where(c.mask, c.score, 0), out=region_scores)
            if mode == "saliency+filter":
                lesion_mask[y0:y1, x0:x1] |= c.mask
        if mode != "saliency+filter":
            lesion_mask = score_map >= 0.5
        return lesion_mask, score_map

    def _score(self, c: Candidate, mode: str) -> float:
        if mode == "grid":
            return float(np.clip(c.engine_score, 0, 1))
        contrast = float(np.clip(c.features.get("contrast", 0) / 20.0, 0, 1))
        roundness = float(c.features.get("roundness", 0))
        gaze = float(c.features.get("gaze", 0))
        if mode == "saliency":
            return float(c.saliency)
        # Where the reader dwelt counts (GlanceSeg's premise), then how MA-like the candidate is.
        return float(np.clip(c.saliency * (0.4 + 0.6 * gaze) * (0.5 + 0.5 * contrast) * (0.5 + 0.5 * roundness), 0, 1))
