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
from gazeseg.retina.filters import Candidate, FilterRules, apply_rules, filter_score, measure
from gazeseg.retina.preprocess import FundusView, prepare
from gazeseg.retina.saliency import ma_saliency, salient_points
from gazeseg.retina.segment import BlobMask, blob_mask
from gazeseg.retina.vessels import vessel_mask, vesselness

MODES = ("grid", "saliency", "saliency+filter")
SEGMENTERS = ("contrast", "engine")


@dataclass
class RetinaResult:
    lesion_mask: np.ndarray
    """Bool (H, W) at full resolution: kept lesions."""
    score_map: np.ndarray
    """Float32 (H, W) in 0..1: each lesion's score over its extent, weighted per pixel by its
    darkness relative to the lesion's darkest point (0 where no lesion was proposed), for AUPR."""
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
    region_level: float = 0.05
    """Regions of interest: where the gaze map reaches this fraction of its peak. 0.05 is wherever
    the reader's fixations came within ~2.5 sigma (what they saw at all); at 0.15 the regions
    left out one MA in seven that the reader's scan had passed over."""
    crop_units: float = 24.0
    grid_step_units: float = 30.0
    saliency_threshold: float = 0.3
    max_candidates: int = 1500
    """Most prompts per image. Contrast-segmented candidates cost ~1 ms each; with the engine (grid
    mode, ``segmenter="engine"``) each is an engine call (~0.25 s classic): pass ~100 there."""
    engine_side: int = 256
    """Crops are enlarged to this many pixels before the engine sees them."""
    segmenter: str = "contrast"
    """Lesion masks in the saliency modes: ``contrast`` (the blob at half its local contrast,
    ``segment.blob_mask``; fast, fits 10-25 px spots) or ``engine`` (the engine prompted with the
    point, as GlanceSeg does with SAM). The grid baseline always prompts the engine."""
    blob_level: float = 0.5
    """Contrast segmenter: the mask is the blob at this fraction of its peak darkness."""
    paint_radius_units: float = 8.0
    """The score map paints a candidate within this radius of its darkest point."""
    min_distance_units: float = 2.5
    """Saliency maxima closer than this merge (MAs come in clusters a few units apart)."""
    lesion_threshold: float = 0.6
    """Without the filter, candidates scoring at least this are painted into the lesion mask."""
    filter_threshold: float = 0.3
    """With the filter, kept candidates scoring at least this (``filter_score``) are lesions."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"retina mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        if self.segmenter not in SEGMENTERS:
            raise InputError(f"retina segmenter: expected one of {', '.join(SEGMENTERS)}, got {self.segmenter!r}")

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
        fix_xy = np.array([(f.x, f.y, f.end_s - f.start_s) for f in fixations], float).reshape(-1, 3)
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
            saliency = ma_saliency(view)
            points = salient_points(saliency, region, unit=view.unit, threshold=self.saliency_threshold, max_points=self.max_candidates,
                                    min_distance_units=self.min_distance_units)
        timings["prompts"] = time.perf_counter() - t

        t = time.perf_counter()
        h, w = image_rgb.shape[:2]
        unit_full = view.unit / s
        half = int(round(self.crop_units * unit_full / 2))
        green_full = image_rgb[..., 1]
        candidates: list[Candidate] = []
        use_engine = self.mode == "grid" or self.segmenter == "engine"
        for x_a, y_a, value in points:
            x, y = x_a / s, y_a / s
            y0, x0 = max(0, int(y) - half), max(0, int(x) - half)
            y1, x1 = min(h, int(y) + half), min(w, int(x) + half)
            if use_engine:
                mask, engine_score = self._engine_mask(image_rgb[y0:y1, x0:x1], (x - x0, y - y0))
                weight = None
            else:
                blob = blob_mask(green_full[y0:y1, x0:x1], (x - x0, y - y0), unit_px=unit_full, level=self.blob_level)
                mask, engine_score = blob.mask, 1.0
                weight = self._pixel_weight(blob, unit_full)
            if not mask.any():
                continue
            cand = Candidate(x, y, mask, (y0, x0, y1, x1), float(value), float(engine_score), weight=weight)
            cand.features["gaze"] = float(heat[min(int(y_a), heat.shape[0] - 1), min(int(x_a), heat.shape[1] - 1)])
            near = np.hypot(fix_xy[:, 0] - x, fix_xy[:, 1] - y) <= px_per_deg
            cand.features["dwell_s"] = float(fix_xy[near, 2].max()) if near.any() else 0.0
            vessel_crop = cv2.resize(vessels[int(y0 * s) : max(int(y1 * s), int(y0 * s) + 1), int(x0 * s) : max(int(x1 * s), int(x0 * s) + 1)].astype(np.uint8),
                                     (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST).astype(float)
            cand.features.update(measure(cand, green_full[y0:y1, x0:x1].astype(np.float32), vessel_crop, unit_full, red_full_crop=image_rgb[y0:y1, x0:x1, 0].astype(np.float32)))
            in_disc = bool(disc.contains(np.array(x * s), np.array(y * s)))
            cand.features["in_disc"] = float(in_disc)
            candidates.append(cand)
        timings["segment"] = time.perf_counter() - t
        lesion_mask, score_map = self.assemble(candidates, (h, w))
        return RetinaResult(lesion_mask, score_map, candidates, heat, region, disc, timings)

    def _pixel_weight(self, blob: BlobMask, unit_full: float) -> np.ndarray:
        """Score-map weights of a contrast blob: 0.5 at its edge to 1 at its darkest point, over the
        mask grown by one unit (annotators draw MAs a little wider than their half-contrast
        outline), and only near the core: an MA is at most ~12 units across, so a blob leaking
        into a vessel or a haemorrhage is painted near its core only (its mask stays whole, for
        the size rule)."""
        k = 2 * max(1, int(round(unit_full))) + 1
        grown = cv2.dilate(blob.mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
        rr, cc = np.ogrid[: grown.shape[0], : grown.shape[1]]
        core = (rr - blob.peak_rc[0]) ** 2 + (cc - blob.peak_rc[1]) ** 2 <= (self.paint_radius_units * unit_full) ** 2
        relative = np.clip(blob.darkness / max(blob.peak, 1e-6), 0, 1)
        return np.where(grown & core, 0.5 + 0.5 * relative, 0).astype(np.float32)

    def _engine_mask(self, crop: np.ndarray, point_xy: tuple[float, float]) -> tuple[np.ndarray, float]:
        # Engines work best at their own scale (SAM ~1024 px, classic ~320): enlarge the tiny crop.
        zoom = max(1.0, self.engine_side / max(crop.shape[:2]))
        big = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC) if zoom > 1 else crop
        embedding = self.engine.embed(big)
        point = np.array([[point_xy[0] * zoom, point_xy[1] * zoom]])
        prompts = PromptSet(points_xy=np.clip(point, 0, [big.shape[1] - 1, big.shape[0] - 1]), labels=np.array([1]))
        pred = self.engine.predict(embedding, prompts, multimask=False)
        mask = cv2.resize(pred.best_mask.astype(np.uint8), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
        return mask, float(pred.scores[pred.best_index])

    def assemble(self, candidates: list[Candidate], image_hw: tuple[int, int], mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score (and, with the filter, prune) candidates; paint the lesion mask and score map.

        Separate from ``run`` so the saliency modes can share one segmentation pass.
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
            pixel = c.weight if c.weight is not None else c.mask.astype(np.float32)
            np.maximum(region_scores, c.score * pixel, out=region_scores)
            if c.score >= (self.filter_threshold if mode == "saliency+filter" else self.lesion_threshold):
                lesion_mask[y0:y1, x0:x1] |= c.mask
        return lesion_mask, score_map

    def _score(self, c: Candidate, mode: str) -> float:
        if mode == "grid":
            return float(np.clip(c.engine_score, 0, 1))
        if mode == "saliency":
            return float(c.saliency)
        return filter_score(c)
