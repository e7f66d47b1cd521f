"""Mask metrics that honour an ignore region (GrabCut's 128 band, DAVIS's void label)."""

from __future__ import annotations

import numpy as np


def iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two bool masks, pixels in ``ignore`` left out. Empty vs empty is 1."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"iou: masks differ in shape, {pred.shape} vs {gt.shape}")
    if ignore is not None:
        keep = ~np.asarray(ignore, bool)
        pred, gt = pred & keep, gt & keep
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def dice(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    value = iou(pred, gt, ignore)
    return 2 * value / (1 + value)


def noc(ious_per_click: list[float] | np.ndarray, threshold: float, max_clicks: int = 20) -> int:
    """Number of clicks to reach ``threshold`` IoU; ``max_clicks`` when never reached (standard NoC)."""
    for k, value in enumerate(ious_per_click, start=1):
        if value >= threshold:
            return k
    return max_clicks
