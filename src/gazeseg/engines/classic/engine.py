"""GrabCut seeded by geodesic regions: the prompt step of the ``classic`` engine.

Why this design: a click says "this object", not how far it extends. The geodesic distance from
the clicks over the colour-gradient map (cheap, edge-aware) proposes how far; GrabCut's colour
models and graph cut then snap the proposal to the object's edges. Three proposal reaches give
SAM-like whole/part/subpart candidates, scored by how well their outline follows image edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.graph import MCP_Geometric

from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine, image_digest
from gazeseg.engines.classic.lowres import from_low_res, to_low_res

ALGORITHM_VERSION = "geogc-3"  # 3: a reject the prior cannot honour drops the prior (drop_contradicted_prior)


@dataclass(frozen=True)
class ClassicParams:
    """Knobs of the classic engine; every field is part of the model id (embeddings never mix)."""

    work_size: int = 320
    """Long side (px) of the working image; masks are upsampled back to the full size."""
    iterations: int = 3
    """GrabCut EM iterations per prediction."""
    seed_radius: float = 0.01
    """Radius of the definite seed disc around each click, as a fraction of the working diagonal."""
    edge_weight: float = 10.0
    """Geodesic cost of crossing a unit of normalised colour gradient (1 = flat region)."""
    whole_bias: float = 0.15
    """Score bonus of the widest candidate: on benchmarks the whole object is what a first look means."""
    prior_reach: tuple[float, ...] = (0.2, 0.4, 10.0)
    """Geodesic reach of each candidate's proposal, as fractions of the working diagonal."""
    border_background: bool = True
    """First click without a box: the object is what is geodesically closer to the click than to the image border."""
    zoom_margin: float = 1.0
    """Refinement clicks work on a crop around the current mask grown by this fraction (0 = off)."""
    drop_contradicted_prior: bool = True
    """When a negative point lies inside the previous mask and the mask made with that mask as
    prior still covers the point's surroundings, segment again from the points alone. The prior's
    grow/shrink proposal keeps a spill that earlier positives reach (a foveal ring inside it), so
    each reject of the same place changed nothing; a reject the prior can honour keeps it (its
    zoomed, refined mask)."""
    max_detail_size: int = 2048
    """Long side of the image copy kept for zoomed refinement and edge-aware upsampling."""

    guided_radius: float = 1.0
    """Edge-aware upsampling of masks to full size: guided-filter radius in working pixels (0 = off)."""
    guided_eps: float = 1e-3
    """Guided-filter regularisation (intensities in 0..1): smaller follows weaker edges."""

    def tag(self) -> str:
        reach = "-".join(f"{r:g}" for r in self.prior_reach)
        return (
            f"ws{self.work_size}_it{self.iterations}_sr{self.seed_radius:g}_ew{self.edge_weight:g}"
            f"_r{reach}_z{self.zoom_margin:g}-{self.max_detail_size}_bb{int(self.border_background)}_wb{self.whole_bias:g}"
            + ("" if self.drop_contradicted_prior else "_keepprior")
        )


class ClassicEngine(Engine):
    """Weight-free promptable segmenter (OpenCV GrabCut + scikit-image geodesic distance)."""

    name = "classic"

    def __init__(self, params: ClassicParams | None = None) -> None:
        self.params = params or ClassicParams()

    @property
    def model_id(self) -> str:
        return f"classic-{ALGORITHM_VERSION}-{self.params.tag()}"

    # -- image step -------------------------------------------------------------------------
    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        h, w = image_rgb.shape[:2]
        view = _make_view(image_rgb, self.params.work_size)
        # Keep a bounded copy of the image for zoomed-in refinement and edge-aware upsampling.
        keep_scale = min(1.0, self.params.max_detail_size / max(h, w))
        detail = image_rgb if keep_scale == 1.0 else cv2.resize(
            image_rgb, (round(w * keep_scale), round(h * keep_scale)), interpolation=cv2.INTER_AREA
        )
        return Embedding(
            model_id=self.model_id,
            image_digest=image_digest(image_rgb),
            image_hw=(h, w),
            payload={"bgr": view.bgr, "grad": view.grad, "detail": np.ascontiguousarray(detail)},
        )

    # -- prompt step ------------------------------------------------------------------------
    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        h, w = embedding.image_hw
        dh, dw = embedding.payload["detail"].shape[:2]
        to_detail = np.array([dw / w, dh / h])
        previous = from_low_res(prompts.mask_logits, (dh, dw)) if prompts.mask_logits is not None else None
        if previous is not None and not previous.any():
            previous = None
        prediction = self._predict_from(embedding, prompts, previous, multimask)
        if previous is not None and self.params.drop_contradicted_prior and _contradicted(previous, prompts, to_detail) \
                and _reject_failed(prediction.best_mask, prompts, self.params.seed_radius):
            return self._predict_from(embedding, prompts, None, multimask)
        return prediction

    def _predict_from(self, embedding: Embedding, prompts: PromptSet, previous: np.ndarray | None, multimask: bool) -> MaskPrediction:
        """The prompt step with ``previous`` (detail-resolution bool mask, or None) as the prior."""
        p = self.params
        h, w = embedding.image_hw
        detail = embedding.payload["detail"]
        dh, dw = detail.shape[:2]
        to_detail = np.array([dw / w, dh / h])
        crop = (0, 0, dh, dw)
        view = _View(embedding.payload["bgr"], embedding.payload["grad"])
        if previous is not None and p.zoom_margin > 0:
            crop = _zoom_window(previous, prompts.points_xy * to_detail, p.zoom_margin, p.work_size)
            if crop != (0, 0, dh, dw):
                view = _make_view(detail[crop[0] : crop[2], crop[1] : crop[3]], p.work_size)
        y0, x0, y1, x1 = crop
        vh, vw = view.grad.shape
        fy, fx = vh / (y1 - y0), vw / (x1 - x0)

        pts = (prompts.points_xy * to_detail - np.array([x0, y0])) * np.array([fx, fy])
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < vw) & (pts[:, 1] >= 0) & (pts[:, 1] < vh)
        rc = np.stack([np.clip(np.round(pts[:, 1]), 0, vh - 1), np.clip(np.round(pts[:, 0]), 0, vw - 1)], 1).astype(int)[inside]  # rounding may reach vh/vw
        labels = prompts.labels[inside]
        pos, neg = rc[labels == 1], rc[labels == 0]
        box = None
        if prompts.box_xyxy is not None:
            b = (prompts.box_xyxy * np.tile(to_detail, 2) - np.array([x0, y0, x0, y0])) * np.array([fx, fy, fx, fy])
            box = (
                int(np.clip(np.floor(b[0]), 0, vw - 1)),
                int(np.clip(np.floor(b[1]), 0, vh - 1)),
                int(np.clip(np.ceil(b[2]), 1, vw)),
                int(np.clip(np.ceil(b[3]), 1, vh)),
            )
        prior = None
        if previous is not None:
            prior = cv2.resize(previous[y0:y1, x0:x1].astype(np.uint8), (vw, vh), interpolation=cv2.INTER_NEAREST) > 0

        masks_view, scores = self._segment_view(view, pos, neg, box, prior, multimask)

        masks, logits = [], []
        guide = cv2.cvtColor(detail[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        for fg in masks_view:
            prob = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 0.8)
            local = cv2.resize(prob, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            if p.guided_radius > 0 and (x1 - x0) > vw:
                local = guided_filter(guide, local, radius=max(1, round(p.guided_radius * (x1 - x0) / vw)), eps=p.guided_eps)
            canvas = np.zeros((dh, dw), np.float32)
            canvas[y0:y1, x0:x1] = np.clip(local, 0, 1)
            full = canvas if (dh, dw) == (h, w) else cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR)
            masks.append(full > 0.5)
            logits.append(to_low_res(canvas))
        order = np.argsort(scores)[::-1][:1] if not multimask else np.arange(len(masks))
        return MaskPrediction(
            masks=np.stack([masks[i] for i in order]),
            scores=np.array([scores[i] for i in order], np.float32),
            low_res_logits=np.stack([logits[i] for i in order]).astype(np.float32),
        )

    def _segment_view(
        self,
        view: _View,
        pos: np.ndarray,
        neg: np.ndarray,
        box: tuple[int, int, int, int] | None,
        prior: np.ndarray | None,
        multimask: bool,
    ) -> tuple[list[np.ndarray], list[float]]:
        """Candidate masks at the view's resolution and their scores."""
        p = self.params
        vh, vw = view.grad.shape
        diag = float(np.hypot(vh, vw))
        cost = 1.0 + p.edge_weight * view.grad
        d_pos = _geodesic(cost, pos)
        d_neg = _geodesic(cost, neg)
        closer_to_pos = d_pos <= d_neg

        proposals: list[np.ndarray] = []
        if prior is not None:
            grow = closer_to_pos & (d_pos < p.prior_reach[0] * diag)
            shrink = ~closer_to_pos & (d_neg < p.prior_reach[1] * diag)
            proposals.append((prior | grow) & ~shrink)
        elif len(pos):
            reaches = p.prior_reach if multimask else p.prior_reach[-1:]
            if p.border_background and box is None:
                border = np.zeros((vh, vw), bool)
                border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
                closer_to_pos &= d_pos <= _geodesic(cost, np.argwhere(border))
            proposals.extend(closer_to_pos & (d_pos < r * diag) for r in reaches)
        else:
            inside = np.zeros((vh, vw), bool)
            if box is not None:
                inside[box[1] : box[3], box[0] : box[2]] = True
            proposals.append(inside)

        radius = max(1, round(p.seed_radius * diag))
        masks, scores = [], []
        for index, proposal in enumerate(proposals):
            fg = _clean(_grabcut(view.bgr, proposal, pos, neg, box, radius, p.iterations), pos, box)
            masks.append(fg)
            widest = index == len(proposals) - 1 and len(proposals) > 1
            scores.append(_edge_score(fg, view.grad) + (p.whole_bias if widest else 0.0))
        return masks, scores


def _contradicted(previous: np.ndarray, prompts: PromptSet, to_detail: np.ndarray) -> bool:
    """True if a negative point lies inside ``previous`` (detail-resolution mask)."""
    negatives = prompts.points_xy[prompts.labels == 0] * to_detail
    if len(negatives) == 0:
        return False
    rows = np.clip(negatives[:, 1].astype(int), 0, previous.shape[0] - 1)
    cols = np.clip(negatives[:, 0].astype(int), 0, previous.shape[1] - 1)
    return bool(previous[rows, cols].any())


def _reject_failed(mask: np.ndarray, prompts: PromptSet, seed_radius: float) -> bool:
    """True if, around some negative point, ``mask`` (full resolution) still covers most of a ring
    just outside the point's own background seed: the spill it rejected survived."""
    h, w = mask.shape
    r = max(3.0, 3 * seed_radius * float(np.hypot(h, w)))
    for x, y in prompts.points_xy[prompts.labels == 0]:
        y0, y1 = max(0, int(y - r)), min(h, int(y + r) + 1)
        x0, x1 = max(0, int(x - r)), min(w, int(x + r) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        d = np.hypot(xx - x, yy - y)
        ring = (d > 0.6 * r) & (d <= r)
        if ring.any() and mask[y0:y1, x0:x1][ring].mean() > 0.5:
            return True
    return False


@dataclass(frozen=True)
class _View:
    """The image (or a zoomed crop of it) at working resolution, with its colour-gradient map."""

    bgr: np.ndarray
    grad: np.ndarray


def _make_view(image_rgb: np.ndarray, work_size: int) -> _View:
    h, w = image_rgb.shape[:2]
    scale = min(1.0, work_size / max(h, w))
    sh, sw = max(8, round(h * scale)), max(8, round(w * scale))
    small = cv2.resize(image_rgb, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != (h, w) else image_rgb
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 1.0), cv2.COLOR_RGB2LAB).astype(np.float32)
    grad = np.zeros((sh, sw), np.float32)
    for channel in range(3):
        gx = cv2.Sobel(lab[..., channel], cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(lab[..., channel], cv2.CV_32F, 0, 1, ksize=3)
        grad += gx * gx + gy * gy
    grad = np.sqrt(grad)
    grad /= float(np.percentile(grad, 90)) + 1e-6
    return _View(np.ascontiguousarray(small[..., ::-1]), grad.astype(np.float32))


def _zoom_window(
    previous: np.ndarray, points_xy: np.ndarray, margin: float, work_size: int
) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1): the current mask and clicks plus a margin, the refinement's field of view.

    Why: refining at the object's own scale (RITM's "zoom-in") recovers thin parts that vanish when
    the whole frame is squeezed to the working size.
    """
    h, w = previous.shape
    rows, cols = np.nonzero(previous)
    ys = np.concatenate([rows, points_xy[:, 1]])
    xs = np.concatenate([cols, points_xy[:, 0]])
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    half_h = max((bottom - top) * (1 + margin), work_size / 2) / 2
    half_w = max((right - left) * (1 + margin), work_size / 2) / 2
    cy, cx = (top + bottom) / 2, (left + right) / 2
    y0, y1 = int(max(0, cy - half_h)), int(min(h, cy + half_h))
    x0, x1 = int(max(0, cx - half_w)), int(min(w, cx + half_w))
    return y0, x0, y1, x1


def guided_filter(guide_u8: np.ndarray, source: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): snaps a blurry upsampled mask to the image's edges.

    Written here because OpenCV's version lives in the contrib build (cv2.ximgproc), which the
    headless wheel we depend on does not ship.
    """
    guide = guide_u8.astype(np.float32) / 255.0
    size = (2 * radius + 1, 2 * radius + 1)
    mean = lambda x: cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i, mean_p = mean(guide), mean(source)
    cov_ip = mean(guide * source) - mean_i * mean_p
    var_i = mean(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return mean(a) * guide + mean(b)


def _geodesic(cost: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Edge-aware distance from the seed pixels (inf without seeds)."""
    if len(seeds) == 0:
        return np.full(cost.shape, np.inf)
    distance, _ = MCP_Geometric(cost).find_costs([tuple(s) for s in seeds])
    return distance


def _disc(shape: tuple[int, int], centres: np.ndarray, radius: int) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    for r, c in centres:
        cv2.circle(out, (int(c), int(r)), radius, 1, -1)
    return out.astype(bool)


def _grabcut(
    bgr: np.ndarray,
    proposal: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    box: tuple[int, int, int, int] | None,
    radius: int,
    iterations: int,
) -> np.ndarray:
    shape = bgr.shape[:2]
    gc = np.full(shape, cv2.GC_PR_BGD, np.uint8)
    gc[proposal] = cv2.GC_PR_FGD
    if box is not None:
        outside = np.ones(shape, bool)
        outside[box[1] : box[3], box[0] : box[2]] = False
        if outside.any():
            gc[outside] = cv2.GC_BGD
    gc[_disc(shape, pos, radius)] = cv2.GC_FGD
    gc[_disc(shape, neg, radius)] = cv2.GC_BGD
    is_bg = (gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)
    if not is_bg.any():  # GrabCut needs both colour models: lend it the image border
        gc[0, :] = gc[-1, :] = cv2.GC_PR_BGD
        gc[:, 0] = gc[:, -1] = cv2.GC_PR_BGD
    if not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any():
        return np.zeros(shape, bool)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means: same prompts, same mask
    cv2.grabCut(bgr, gc, None, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def _clean(fg: np.ndarray, pos: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """Keep the parts the user pointed at and fill their holes."""
    labels, count = ndi.label(fg)
    if count == 0:
        return fg
    if len(pos):
        keep = {int(labels[r, c]) for r, c in pos} - {0}
        if not keep:
            return np.zeros_like(fg)
    else:
        sizes = ndi.sum(fg, labels, index=np.arange(1, count + 1))
        keep = {int(np.argmax(sizes)) + 1}
    out = np.isin(labels, list(keep))
    return ndi.binary_fill_holes(out)


def _edge_score(mask: np.ndarray, grad: np.ndarray) -> float:
    """How strongly the mask's outline follows image edges (0..1); a stand-in for SAM's IoU head."""
    if not mask.any() or mask.all():
        return 0.0
    m = mask.astype(np.uint8)
    outline = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
    ratio = float(grad[outline].mean()) / (float(grad.mean()) + 1e-6)
    return ratio / (1.0 + ratio)
