"""The learned part of the weight-free engine: a per-pixel corrector trained from accepted masks.

Why: the classic engine is the same on every project; the people using it are not labelling the
same things. A small gradient-boosted classifier (scikit-learn) looks at each pixel's colour, the
engine's candidate masks, the distance to the clicks and to the candidate's outline, and learns
where the engine's answer is usually wrong for this project. It is trained from accepted masks by
replaying a short simulated click session on each (the prompts people actually give) and refit as
masks arrive. ``RefinedEngine(base, refiner)`` wraps any engine by composition.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.errors import InputError
from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine

FEATURE_NAMES = (
    "L", "a", "b", "grad", "colour_to_clicks", "colour_fg_minus_bg",
    "cand_best", "cand_mean", "cand_max", "cand_min", "signed_dist_best",
    "dist_pos", "dist_neg", "n_clicks",
)


def _grid_hw(hw: tuple[int, int], grid: int) -> tuple[int, int]:
    h, w = hw
    s = grid / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def pixel_features(lab: np.ndarray, grad: np.ndarray, candidates: np.ndarray, scores: np.ndarray,
                   prompts: PromptSet, scale: float) -> np.ndarray:
    """(h*w, F) features on the refiner's grid. ``candidates``: (K, h, w) float in [0, 1]."""
    h, w = lab.shape[:2]
    best = candidates[int(np.argmax(scores))]
    best_bool = best > 0.5
    area = max(float(best_bool.sum()), 16.0)
    norm = np.sqrt(area)
    flat = lab.reshape(-1, 3)
    pts = prompts.points_xy * scale
    labels = prompts.labels
    pos = pts[labels == 1] if len(pts) else np.zeros((0, 2))
    neg = pts[labels == 0] if len(pts) else np.zeros((0, 2))

    def sample_at(p: np.ndarray) -> np.ndarray:
        r = np.clip(np.round(p[:, 1]).astype(int), 0, h - 1)
        c = np.clip(np.round(p[:, 0]).astype(int), 0, w - 1)
        return lab[r, c]

    ref = sample_at(pos).mean(0) if len(pos) else (flat[best_bool.ravel()].mean(0) if best_bool.any() else flat.mean(0))
    to_clicks = np.linalg.norm(flat - ref, axis=1)
    fg = flat[best_bool.ravel()].mean(0) if best_bool.any() else ref
    bg = flat[~best_bool.ravel()].mean(0) if (~best_bool).any() else flat.mean(0)
    fg_minus_bg = np.linalg.norm(flat - bg, axis=1) - np.linalg.norm(flat - fg, axis=1)
    inside = ndi.distance_transform_edt(best_bool)
    outside = ndi.distance_transform_edt(~best_bool)
    signed = np.clip((inside - outside) / norm, -3, 3)

    def dist_to(points: np.ndarray) -> np.ndarray:
        if not len(points):
            return np.full((h, w), 3.0)
        seeds = np.ones((h, w), bool)
        r = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
        c = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
        seeds[r, c] = False
        return np.clip(ndi.distance_transform_edt(seeds) / norm, 0, 3)

    n_clicks = np.full(h * w, min(len(pts), 10) / 10.0)
    columns = [
        flat[:, 0], flat[:, 1], flat[:, 2], grad.ravel(), to_clicks, fg_minus_bg,
        best.ravel(), candidates.mean(0).ravel(), candidates.max(0).ravel(), candidates.min(0).ravel(),
        signed.ravel(), dist_to(pos).ravel(), dist_to(neg).ravel(), n_clicks,
    ]
    return np.stack(columns, axis=1).astype(np.float32)


@dataclass
class PixelRefiner:
    """Buffer of (features, label) pixels from accepted masks and the classifier fitted on it."""

    grid: int = 128
    pixels_per_view: int = 2500
    seed: int = 0
    min_views: int = 3
    margin: float = 0.25
    """Pixels are changed only where the classifier is at least this far from 0.5."""
    use: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in ("L", "a", "b"))
    """Relative features only: absolute colours of a few images do not carry over to new ones."""
    _x: list[np.ndarray] = field(default_factory=list, repr=False)
    _y: list[np.ndarray] = field(default_factory=list, repr=False)
    classifier: object | None = field(default=None, repr=False)
    n_samples: int = 0

    @property
    def is_fitted(self) -> bool:
        return self.classifier is not None

    def add_view(self, features: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Keep a random subset of one view's pixels (boundary-heavy: errors live there)."""
        rng = np.random.default_rng(self.seed + len(self._x))
        keep = np.ones(len(labels), bool) if valid is None else valid
        index = np.flatnonzero(keep)
        if not len(index):
            return
        near = np.abs(features[index, FEATURE_NAMES.index("signed_dist_best")]) < 0.5
        weights = np.where(near, 4.0, 1.0)
        weights /= weights.sum()
        pick = rng.choice(index, size=min(self.pixels_per_view, len(index)), replace=False, p=weights)
        self._x.append(features[pick])
        self._y.append(labels[pick].astype(np.uint8))

    def fit(self) -> None:
        """Refit on everything seen so far (seconds for tens of thousands of pixels)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        if len(self._x) < self.min_views:
            return
        y = np.concatenate(self._y)
        if len(np.unique(y)) < 2:
            return
        clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=31,
                                             l2_regularization=1.0, random_state=self.seed)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # OpenMP spinning on a shared CPU costs more than it gains here
            clf.fit(self._select(np.concatenate(self._x)), y)
        self.classifier = clf

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        if self.classifier is None:
            raise InputError("refiner: not trained yet; call learn() on some accepted masks first")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self.classifier.predict_proba(self._select(features))[:, 1]

    def _select(self, features: np.ndarray) -> np.ndarray:
        return features[:, [FEATURE_NAMES.index(n) for n in self.use]]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("wb") as handle:
            pickle.dump(self, handle)
        return path

    @staticmethod
    def load(path: str | Path) -> PixelRefiner:
        with Path(path).open("rb") as handle:  # only load refiners you wrote yourself (pickle)
            refiner = pickle.load(handle)
        if not isinstance(refiner, PixelRefiner):
            raise InputError(f"refiner file: expected a saved PixelRefiner, got {type(refiner).__name__}")
        return refiner


class RefinedEngine(Engine):
    """Any engine plus a ``PixelRefiner``: base candidates in, one corrected mask out."""

    name = "refined"

    def __init__(self, base: Engine, refiner: PixelRefiner | None = None) -> None:
        self.base = base
        self.refiner = refiner or PixelRefiner()

    @property
    def model_id(self) -> str:
        return f"{self.base.model_id}+refine{self.refiner.grid}"

    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        inner = self.base._embed(image_rgb)
        gh, gw = _grid_hw(inner.image_hw, self.refiner.grid)
        small = cv2.resize(image_rgb, (gw, gh), interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0
        gray = lab[:, :, 0]
        grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        return Embedding(model_id=self.model_id, image_digest=inner.image_digest, image_hw=inner.image_hw,
                         payload={"inner": inner, "lab": lab, "grad": grad})

    def prepare(self, embedding: Embedding) -> None:
        self.base.prepare(embedding.payload["inner"])

    def _features(self, embedding: Embedding, base: MaskPrediction, prompts: PromptSet) -> np.ndarray:
        lab = embedding.payload["lab"]
        gh, gw = lab.shape[:2]
        cands = np.stack([cv2.resize(m.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA) for m in base.masks])
        scale = gw / embedding.image_hw[1]
        return pixel_features(lab, embedding.payload["grad"], cands, np.asarray(base.scores), prompts, scale)

    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        from gazeseg.engines.classic.lowres import to_low_res

        inner = embedding.payload["inner"]
        base = self.base.predict(inner, prompts, multimask=multimask)
        if not self.refiner.is_fitted:
            return base
        gh, gw = embedding.payload["lab"].shape[:2]
        prob = self.refiner.predict_proba(self._features(embedding, base, prompts)).reshape(gh, gw)
        h, w = embedding.image_hw
        # Only regions where the refiner disagrees with the engine over more than a grid cell's
        # width are changed: the engine's full-resolution outline is kept everywhere else.
        base_mask = base.masks[base.best_index]
        base_grid = cv2.resize(base_mask.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA) > 0.5
        m = self.refiner.margin
        flip = ((prob > 0.5 + m) & ~base_grid) | ((prob < 0.5 - m) & base_grid)
        flip = ndi.binary_opening(flip, structure=np.ones((3, 3), bool))
        if not flip.any():
            return base
        flip_full = cv2.resize(flip.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        mask = np.where(flip_full, ~base_mask, base_mask)
        if not mask.any():
            return base
        full = np.where(mask, 0.9, 0.1).astype(np.float32)
        score = float(np.mean(np.abs(prob - 0.5)) * 2)  # confidence, not a calibrated IoU
        return MaskPrediction(masks=mask[None], scores=np.array([max(score, float(base.scores.max()) + 1e-3)], np.float32),
                              low_res_logits=to_low_res(full)[None])

    def learn(self, image: np.ndarray, mask: np.ndarray, *, ignore: np.ndarray | None = None,
              clicks: int = 3, embedding: Embedding | None = None, fit: bool = True) -> int:
        """Learn from one accepted mask by replaying ``clicks`` simulated clicks on the base engine.

        Returns the number of views added. ``fit=False`` only buffers (call ``refiner.fit()`` later).
        """
        from gazeseg.eval.clicks import interior_point, next_click

        mask = np.asarray(mask, bool)
        if not mask.any():
            raise InputError("learn: the accepted mask is empty; nothing to learn from")
        emb = embedding if embedding is not None else self.embed(image)
        if tuple(emb.image_hw) != mask.shape:
            raise InputError(f"learn: mask {mask.shape} does not match the image {tuple(emb.image_hw)}; give the mask of this image")
        gh, gw = emb.payload["lab"].shape[:2]
        target = cv2.resize(mask.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA)
        valid = None
        if ignore is not None:
            valid = cv2.resize(ignore.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA).ravel() < 0.5
        first = interior_point(mask, ignore)
        points, labels, logits = [first], [1], None
        for _ in range(clicks):
            prompts = PromptSet(points_xy=np.array(points, float), labels=np.array(labels), mask_logits=logits)
            base = self.base.predict(emb.payload["inner"], prompts, multimask=len(points) == 1)
            self.refiner.add_view(self._features(emb, base, prompts), (target > 0.5).ravel(), valid)
            k = base.best_index
            logits = base.low_res_logits[k]
            click = next_click(base.masks[k], mask, ignore)
            if click is None:
                break
            points.append(click[0])
            labels.append(click[1])
        self.refiner.n_samples += 1
        if fit:
            self.refiner.fit()
        return len(points)
