"""The weight-free engine's learned part: which of its candidate masks the user means.

The classic engine proposes three masks per first look (sub-part, part, whole) and picks by a
hand-set edge score. Every accepted mask says which candidate was right; a small gradient-boosted
regressor from candidate features to IoU, trained on those, replaces the hand-set choice.
"""

from __future__ import annotations

import numpy as np

from gazeseg.core.errors import InputError


def candidate_features(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(K, F): score, index, area fraction, border contact, agreement with the others, compactness."""
    k = len(masks)
    flat = masks.reshape(k, -1)
    area = flat.mean(1)
    border = np.array([m[0].mean() + m[-1].mean() + m[:, 0].mean() + m[:, -1].mean() for m in masks])
    inter = flat.astype(np.float32) @ flat.T.astype(np.float32)
    sizes = flat.sum(1).astype(np.float32)
    union = sizes[:, None] + sizes[None, :] - inter
    agree = np.where(union > 0, inter / np.maximum(union, 1), 0)
    agreement = (agree.sum(1) - 1) / max(1, k - 1)
    compact = []
    for m in masks:
        rows, cols = np.nonzero(m)
        box = (np.ptp(rows) + 1) * (np.ptp(cols) + 1) if len(rows) else 1
        compact.append(len(rows) / box)
    return np.column_stack([scores, np.arange(k) / max(1, k - 1), area, border, agreement, compact])


class CandidateSelector:
    def __init__(self) -> None:
        self.model = None

    def fit(self, features: list[np.ndarray], ious: list[np.ndarray]) -> CandidateSelector:
        from sklearn.ensemble import GradientBoostingRegressor

        X = np.concatenate(features)  # noqa: N806
        y = np.concatenate(ious)
        if len(X) < 6:
            raise InputError("candidate selector: needs at least two accepted objects")
        self.model = GradientBoostingRegressor(n_estimators=80, max_depth=2, learning_rate=0.1, random_state=0).fit(X, y)
        return self

    def choose(self, features: np.ndarray) -> int:
        if self.model is None:
            raise InputError("candidate selector: not trained yet")
        return int(np.argmax(self.model.predict(features)))
