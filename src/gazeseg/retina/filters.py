"""Domain knowledge that removes false microaneurysms (GlanceSeg's filter, made explicit).

Each rule is a plain threshold on a measured property, in units of the FOV size, so it carries
to other cameras: MAs are 10-125 um (Early Treatment Diabetic Retinopathy Study) -> a size range;
they are round; darker than the surrounding retina; never on a vessel; never in the optic disc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class FilterRules:
    min_diameter_units: float = 2.5
    """Smallest equivalent diameter in FOV/1000 units; one unit is about 12 um (a 45 deg field is ~12 mm)."""
    max_diameter_units: float = 12.0
    """MAs are at most ~125 um across (ETDRS), about 10 units; a little slack for the mask's edge."""
    min_roundness: float = 0.35
    """4*pi*area/perimeter^2 of the mask (1 = disc); small masks' pixel outlines read ~0.6-0.9."""
    min_contrast: float = 4.0
    """Green-channel darkness against a surrounding ring, in grey levels of the CLAHE image."""
    max_vessel_overlap: float = 0.7
    """Fraction of the mask on the vessel map; MAs sit on capillaries beside vessels, and the
    vessel map (12 % of the FOV) is wider than the vessels, so only masks mostly on it go."""
    disc_margin: float = 1.3


@dataclass
class Candidate:
    x: float
    y: float
    """Centre, full-resolution image px."""
    mask: np.ndarray
    """Bool mask of the crop ``box`` (y0, x0, y1, x1) at full resolution."""
    box: tuple[int, int, int, int]
    saliency: float
    engine_score: float
    features: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    weight: np.ndarray | None = None
    """Float32 per-pixel weights (0..1) of the crop for the score map; None: the mask."""

    @property
    def kept(self) -> bool:
        return not self.reasons


def measure(candidate: Candidate, green_full_crop: np.ndarray, vessel_crop: np.ndarray, unit_full: float, *, red_full_crop: np.ndarray | None = None) -> dict[str, float]:
    """Size, roundness, contrast (green and, given the red channel, red) and vessel overlap of a
    candidate mask (full-res crop)."""
    m = candidate.mask.astype(np.uint8)
    area = float(m.sum())
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = float(sum(cv2.arcLength(c, True) for c in contours)) or 1.0
    ring = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))).astype(bool) & ~m.astype(bool)
    inside = float(green_full_crop[m.astype(bool)].mean()) if area else 0.0
    outside = float(np.median(green_full_crop[ring])) if ring.any() else inside
    red = 0.0
    if red_full_crop is not None and area:
        red_inside = float(red_full_crop[m.astype(bool)].mean())
        red = (float(np.median(red_full_crop[ring])) if ring.any() else red_inside) - red_inside
    return {
        "red_contrast": red,
        "diameter_units": float(2 * np.sqrt(area / np.pi) / unit_full) if area else 0.0,
        "roundness": float(min(1.0, 4 * np.pi * area / perimeter**2)) if area else 0.0,
        "contrast": outside - inside,
        "vessel_overlap": float(vessel_crop[m.astype(bool)].mean()) if area else 0.0,
    }


def apply_rules(candidate: Candidate, rules: FilterRules, in_disc: bool) -> list[str]:
    f = candidate.features
    reasons = []
    if not rules.min_diameter_units <= f["diameter_units"] <= rules.max_diameter_units:
        reasons.append("size")
    if f["roundness"] < rules.min_roundness:
        reasons.append("shape")
    if f["contrast"] < rules.min_contrast:
        reasons.append("contrast")
    if f["vessel_overlap"] > rules.max_vessel_overlap:
        reasons.append("vessel")
    if in_disc:
        reasons.append("optic disc")
    return reasons


def filter_score(c: Candidate) -> float:
    """How microaneurysm-like a candidate that passed the rules is (0..1).

    Saliency (contrast over local noise) times soft versions of the rules' own measures: roundness
    and redness (an MA is blood: it darkens the red channel too, where shading and pigment barely
    do). The reader's gaze already chose the regions; weighting by the gaze map again ranked worse
    on the tuning images (the reader also dwells on haemorrhages and exudates); the lesion learner
    can use it (features ``gaze``, ``dwell_s``).
    """
    f = c.features
    roundness = float(np.clip(f.get("roundness", 0), 0, 1))
    red = float(np.clip(f.get("red_contrast", 0) / 8.0, 0, 1))
    return float(np.clip(c.saliency * (0.4 + 0.6 * roundness) * (0.6 + 0.4 * red), 0, 1))
