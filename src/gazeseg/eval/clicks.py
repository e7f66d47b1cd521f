"""The standard interactive-segmentation click protocol (as in RITM, SAM and SimpleClick).

The simulated user clicks the most interior pixel of the object first; every later click goes
to the centre of the largest error region (a positive click in a missed part, a negative one in
a false part). The previous low-resolution logits are fed back, as a real tool would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.types import PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.eval.metrics import iou, noc


@dataclass
class ClickTrace:
    """One object's run: IoU after each click, the clicks themselves and the time each took."""

    ious: list[float] = field(default_factory=list)
    points_xy: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list, repr=False)


def interior_point(region: np.ndarray, ignore: np.ndarray | None = None) -> tuple[float, float] | None:
    """(x, y) of the pixel farthest from the region's border: the centre a person would click."""
    region = np.asarray(region, bool)
    if ignore is not None:
        region = region & ~ignore
    if not region.any():
        return None
    padded = np.pad(region, 1)
    dist = ndi.distance_transform_edt(padded)[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(c), float(r)


def next_click(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> tuple[tuple[float, float], int] | None:
    """Where the simulated user clicks next: the interior point of the largest error region."""
    valid = np.ones_like(gt, bool) if ignore is None else ~ignore
    false_neg = gt & ~pred & valid
    false_pos = pred & ~gt & valid
    best: tuple[float, tuple[float, float], int] | None = None
    for error, label in ((false_neg, 1), (false_pos, 0)):
        if not error.any():
            continue
        padded = np.pad(error, 1)
        dist = ndi.distance_transform_edt(padded)[1:-1, 1:-1]
        peak = float(dist.max())
        if best is None or peak > best[0]:
            r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
            best = (peak, (float(c), float(r)), label)
    if best is None:
        return None
    return best[1], best[2]


def run_click_protocol(
    engine: Engine,
    embedding: Embedding,
    gt: np.ndarray,
    ignore: np.ndarray | None = None,
    *,
    max_clicks: int = 20,
    stop_iou: float | None = None,
    keep_masks: bool = False,
) -> ClickTrace:
    """Click until ``max_clicks`` (or ``stop_iou`` reached); the first click is multimask, best-scored."""
    gt = np.asarray(gt, bool)
    trace = ClickTrace()
    first = interior_point(gt, ignore)
    if first is None:
        raise ValueError("run_click_protocol: the ground-truth mask is empty")
    points = [first]
    labels = [1]
    logits = None
    while True:
        prompts = PromptSet(points_xy=np.array(points, float), labels=np.array(labels), mask_logits=logits)
        start = time.perf_counter()
        result = engine.predict(embedding, prompts, multimask=len(points) == 1)
        trace.seconds.append(time.perf_counter() - start)
        k = result.best_index
        pred = result.masks[k]
        logits = result.low_res_logits[k]
        trace.ious.append(iou(pred, gt, ignore))
        if keep_masks:
            trace.masks.append(pred)
        if len(points) >= max_clicks or (stop_iou is not None and trace.ious[-1] >= stop_iou):
            break
        click = next_click(pred, gt, ignore)
        if click is None:
            break
        points.append(click[0])
        labels.append(click[1])
    trace.points_xy = [tuple(p) for p in points]
    trace.labels = labels
    return trace


def padded_ious(trace: ClickTrace, max_clicks: int = 20) -> np.ndarray:
    """IoU after clicks 1..max_clicks; a run that stopped early keeps its last value."""
    values = np.array(trace.ious, float)
    if len(values) < max_clicks:
        values = np.concatenate([values, np.full(max_clicks - len(values), values[-1])])
    return values[:max_clicks]


def summarize(traces: list[ClickTrace], max_clicks: int = 20) -> dict[str, float]:
    """mIoU@1/@5, NoC@85/@90 (``max_clicks`` when never reached), failures and seconds per click."""
    if not traces:
        raise ValueError("summarize: no traces")
    curves = np.stack([padded_ious(t, max_clicks) for t in traces])
    noc85 = [noc(c, 0.85, max_clicks) for c in curves]
    noc90 = [noc(c, 0.90, max_clicks) for c in curves]
    seconds = np.concatenate([np.asarray(t.seconds, float) for t in traces])
    return {
        "objects": len(traces),
        "miou@1": float(curves[:, 0].mean()),
        "miou@3": float(curves[:, min(2, max_clicks - 1)].mean()),
        "miou@5": float(curves[:, min(4, max_clicks - 1)].mean()),
        "noc@85": float(np.mean(noc85)),
        "noc@90": float(np.mean(noc90)),
        "failures@90": int(sum(not (c >= 0.90).any() for c in curves)),
        "seconds_per_click": float(seconds.mean()),
        "seconds_per_click_p95": float(np.percentile(seconds, 95)),
    }


def miou_curve(traces: list[ClickTrace], max_clicks: int = 20) -> np.ndarray:
    """Mean IoU after 1..max_clicks clicks, for plots."""
    return np.stack([padded_ious(t, max_clicks) for t in traces]).mean(axis=0)
