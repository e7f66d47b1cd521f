"""Learning the retina filter from the clinician's confirmations and rejections.

The learner starts from the hand-set filter and corrects it. Its score is a logistic model whose
input includes the filter's own score (``prior``, ``gazeseg.retina.filters.filter_score``) and the
measures the rules threshold (contrast, size, roundness, vessel overlap, optic disc) plus what the
rules do not use (red contrast, the reader's gaze and dwell):

    logit = b + s * prior + w . x        (x standardised over the decisions seen)

fitted by class-balanced maximum likelihood with a Gaussian penalty that pulls ``w`` to 0 and
``s`` to a fixed positive value (a prior worth ``strength`` decisions). With no or few decisions
the ranking is the hand-set filter's; as decisions accumulate the data outweigh the penalty, so
the false positives this clinician keeps rejecting sink below the lesions they confirm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError

FEATURES = ("prior", "saliency", "contrast", "red_contrast", "diameter_units", "roundness", "vessel_overlap", "in_disc", "gaze", "dwell_s")
_PRIOR = FEATURES.index("prior")


def feature_vector(candidate) -> np.ndarray:  # noqa: ANN001
    """``FEATURES`` of a ``gazeseg.retina.filters.Candidate`` (float array)."""
    from gazeseg.retina.filters import filter_score

    f = dict(candidate.features)
    f["saliency"] = candidate.saliency
    f["prior"] = filter_score(candidate)
    return np.array([float(f.get(name, 0.0)) for name in FEATURES])


class LesionLearner:
    """Hand-set filter score corrected by the clinician's decisions (see the module docstring).

    ``strength``: how many decisions the prior is worth (the penalty's weight).
    """

    def __init__(self, strength: float = 20.0, prior_scale: float = 2.0) -> None:
        if not strength > 0:
            raise InputError(f"strength: expected a positive number of decisions, got {strength!r}")
        self.strength = strength
        self.prior_scale = prior_scale
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept = 0.0

    @property
    def ready(self) -> bool:
        return self.coef is not None

    def fit(self, X: np.ndarray, y: np.ndarray) -> LesionLearner:  # noqa: N803
        """X: (N, len(FEATURES)) from ``feature_vector``; y: (N,) 1 confirmed, 0 rejected."""
        from scipy.optimize import minimize

        X, y = np.asarray(X, float), np.asarray(y, float).reshape(-1)  # noqa: N806
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(X) != len(y):
            raise InputError(f"lesion learner: expected X of shape (N, {len(FEATURES)}) and N labels, got {X.shape} and {y.shape}")
        if len(set(y.tolist())) < 2:
            raise InputError("lesion learner: needs both confirmed and rejected candidates to learn from")
        self.mean = X.mean(0)
        self.scale = X.std(0) + 1e-6
        Z = (X - self.mean) / self.scale  # noqa: N806
        pos = y.sum()
        weights = np.where(y > 0, 0.5 / pos, 0.5 / (len(y) - pos)) * len(y)  # class-balanced
        target = np.zeros(len(FEATURES))
        target[_PRIOR] = self.prior_scale
        lam = self.strength / len(FEATURES)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            b, w = theta[0], theta[1:]
            z = b + Z @ w
            p = 1.0 / (1.0 + np.exp(-z))
            # log(1 + e^z) - y z, stably
            nll = np.sum(weights * (np.logaddexp(0, z) - y * z))
            reg = 0.5 * lam * np.sum((w - target) ** 2)
            grad_z = weights * (p - y)
            return nll + reg, np.r_[grad_z.sum(), Z.T @ grad_z + lam * (w - target)]

        theta0 = np.r_[0.0, target]
        result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        self.intercept, self.coef = float(result.x[0]), result.x[1:]
        return self

    def score(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Probability-like score (N,) of each candidate being a lesion; before any ``fit``, the
        hand-set filter score (the ``prior`` column)."""
        X = np.atleast_2d(np.asarray(X, float))  # noqa: N806
        if X.shape[1] != len(FEATURES):
            raise InputError(f"lesion learner: expected {len(FEATURES)} features per candidate ({', '.join(FEATURES)}), got {X.shape[1]}")
        if self.coef is None:
            return X[:, _PRIOR].copy()
        z = self.intercept + ((X - self.mean) / self.scale) @ self.coef
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: Path) -> Path:
        if self.coef is None:
            raise InputError("lesion learner: nothing to save; fit it on some decisions first")
        Path(path).write_text(json.dumps({"features": FEATURES, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                                          "coef": self.coef.tolist(), "intercept": self.intercept,
                                          "strength": self.strength, "prior_scale": self.prior_scale}))
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> LesionLearner:
        data = json.loads(Path(path).read_text())
        if tuple(data.get("features", ())) != FEATURES:
            raise InputError(f"{path}: saved for features {data.get('features')}, expected {list(FEATURES)}; fit the learner again")
        learner = cls(data["strength"], data["prior_scale"])
        learner.mean, learner.scale = np.array(data["mean"]), np.array(data["scale"])
        learner.coef, learner.intercept = np.array(data["coef"]), float(data["intercept"])
        return learner
