"""Lesion metrics: pixel AUPR, Dice, and lesion-level FROC (sensitivity vs false positives per image)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

FROC_FP_RATES = (0.125, 0.25, 0.5, 1, 2, 4, 8)


class PixelPR:
    """Accumulates pixel scores and truth over images; AUPR exactly, with ties at score 0."""

    def __init__(self) -> None:
        self.scores: list[np.ndarray] = []
        self.truth: list[np.ndarray] = []
        self.zero_pos = 0
        self.zero_neg = 0

    def add(self, score_map: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> None:
        s = score_map if valid is None else score_map[valid]
        g = truth if valid is None else truth[valid]
        nz = s > 0
        self.scores.append(s[nz].astype(np.float32))
        self.truth.append(g[nz].astype(bool))
        self.zero_pos += int(g[~nz].sum())
        self.zero_neg += int((~g[~nz]).sum())

    def aupr(self) -> float:
        s = np.concatenate(self.scores) if self.scores else np.zeros(0)
        g = np.concatenate(self.truth) if self.truth else np.zeros(0, bool)
        total_pos = int(g.sum()) + self.zero_pos
        if total_pos == 0:
            return float("nan")
        order = np.argsort(-s, kind="stable")
        s, g = s[order], g[order]
        tp = np.cumsum(g)
        fp = np.cumsum(~g)
        last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.zeros(0, int)
        precision = tp[last] / (tp[last] + fp[last])
        recall = tp[last] / total_pos
        ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
        # The last threshold calls every pixel a lesion: recall 1 at the base rate.
        base = total_pos / (len(g) + self.zero_pos + self.zero_neg)
        ap += (1.0 - (recall[-1] if len(recall) else 0.0)) * base
        return ap


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    denom = pred.sum() + truth.sum()
    return 1.0 if denom == 0 else float(2 * (pred & truth).sum() / denom)


def lesion_hits(candidates: Sequence[tuple[np.ndarray, float]], truth: np.ndarray) -> tuple[list[tuple[float, bool, int]], int]:
    """For each candidate (full-size bool mask, score): (score, hit, gt label hit); and #GT lesions."""
    labels, n = ndi.label(truth)
    out = []
    for mask, score in candidates:
        hit_labels = np.unique(labels[mask])
        hit_labels = hit_labels[hit_labels > 0]
        out.append((score, bool(len(hit_labels)), int(hit_labels[0]) if len(hit_labels) else 0))
    return out, n


def froc(per_image: Sequence[tuple[list[tuple[float, bool, int]], int]], fp_rates: Sequence[float] = FROC_FP_RATES) -> dict:
    """Sensitivity at the given false positives per image, and the curve (thresholds over all scores)."""
    n_images = len(per_image)
    total = sum(n for _, n in per_image)
    scores = sorted({s for hits, _ in per_image for s, _, _ in hits}, reverse=True)
    curve = []
    for t in scores:
        found, fps = 0, 0
        for hits, _ in per_image:
            got = {label for s, hit, label in hits if s >= t and hit}
            found += len(got)
            fps += sum(1 for s, hit, _ in hits if s >= t and not hit)
        curve.append((fps / max(1, n_images), found / max(1, total)))
    sens_at = {}
    for rate in fp_rates:
        ok = [sens for fp, sens in curve if fp <= rate]
        sens_at[str(rate)] = max(ok) if ok else 0.0
    return {"curve": curve, "sensitivity_at": sens_at, "froc_score": float(np.mean(list(sens_at.values()))), "lesions": total}
