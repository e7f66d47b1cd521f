"""Learning the retina filter from the clinician's confirmations and rejections.

A logistic regression over the candidate's measured properties (saliency, darkness contrast,
size, roundness, vessel overlap, optic-disc proximity, how long the reader dwelt there). With no
decisions yet the hand-set rules apply; with a few dozen the learned score replaces them, so
false positives that this clinician keeps rejecting stop being proposed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError

FEATURES = ("saliency", "contrast", "diameter_units", "roundness", "vessel_overlap", "in_disc", "gaze", "engine_score")


def feature_vector(candidate) -> np.ndarray:  # noqa: ANN001
    f = dict(candidate.features)
    f["saliency"] = candidate.saliency
    f["engine_score"] = candidate.engine_score
    return np.array([float(f.get(name, 0.0)) for name in FEATURES])


class LesionLearner:
    def __init__(self, c: float = 1.0) -> None:
        self.c = c
        self.model = None

    @property
    def ready(self) -> bool:
        return self.model is not None

    def fit(self, X: np.ndarray, y: np.ndarray) -> LesionLearner:  # noqa: N803
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = np.asarray(X, float), np.asarray(y, int)  # noqa: N806
        if len(set(y.tolist())) < 2:
            raise InputError("lesion learner: needs both confirmed and rejected candidates to learn from")
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=self.c, class_weight="balanced", max_iter=1000))
        self.model.fit(X, y)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        if self.model is None:
            raise InputError("lesion learner: not trained yet")
        return self.model.predict_proba(np.atleast_2d(np.asarray(X, float)))[:, 1]

    def save(self, path: Path) -> Path:
        if self.model is None:
            raise InputError("lesion learner: nothing to save")
        scaler, logistic = self.model[0], self.model[1]
        Path(path).write_text(json.dumps({"features": FEATURES, "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
                                          "coef": logistic.coef_.tolist(), "intercept": logistic.intercept_.tolist()}))
        return Path(path)
