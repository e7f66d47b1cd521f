import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from gazeseg.learn.lesion_learner import FEATURES, LesionLearner
from gazeseg.learn.selector import CandidateSelector, candidate_features


def test_selector_learns_which_candidate_users_accept(data_dir):
    engine = create_engine("classic")
    feats, ious = [], []
    for obj in list(load_dataset(data_dir / "grabcut"))[:16]:
        gt, ignore = obj.load()
        pred = engine.predict(engine.embed(obj.load_image()), PromptSet(points_xy=np.array([interior_point(gt, ignore)]), labels=np.array([1])))
        feats.append(candidate_features(pred.masks, pred.scores))
        ious.append(np.array([iou(m, gt, ignore) for m in pred.masks]))
    assert feats[0].shape == (3, 6)
    selector = CandidateSelector().fit(feats, ious)
    chosen = np.mean([i[selector.choose(f)] for f, i in zip(feats, ious)])
    worst = np.mean([i.min() for i in ious])
    assert chosen > worst  # on its training data it must at least avoid the worst candidate
    with pytest.raises(InputError):
        CandidateSelector().fit(feats[:1], ious[:1])


def test_lesion_learner_separates_confirmed_from_rejected(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    y = rng.random(n) < 0.3
    X = rng.normal(0, 1, (n, len(FEATURES)))
    X[y, FEATURES.index("contrast")] += 2.0  # confirmed lesions are darker
    X[~y, FEATURES.index("vessel_overlap")] += 1.5  # rejected ones sit on vessels
    learner = LesionLearner().fit(X[:150], y[:150])
    scores = learner.score(X[150:])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[150:], scores) > 0.9
    saved = learner.save(tmp_path / "l.json")
    assert np.allclose(LesionLearner.load(saved).score(X[150:]), scores)
    with pytest.raises(InputError, match="both"):
        LesionLearner().fit(X[:10], np.zeros(10))
    with pytest.raises(InputError, match="features"):
        learner.score(X[:, :3])


def test_lesion_learner_starts_from_the_hand_set_filter():
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (300, len(FEATURES)))
    prior = X[:, FEATURES.index("prior")]
    assert np.array_equal(LesionLearner().score(X), prior)  # no decisions: the rules' own score
    # Two noisy decisions cannot overturn the prior: the ranking stays the hand-set one.
    y2 = np.array([1, 0])
    few = LesionLearner().fit(X[:2], y2)
    from scipy.stats import spearmanr

    assert spearmanr(few.score(X), prior).statistic > 0.9
    # Many decisions that contradict part of the prior (a feature the rules ignore) win.
    y = (prior + 2.0 * X[:, FEATURES.index("red_contrast")]) > 0.5
    many = LesionLearner().fit(X, y)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, many.score(X)) > roc_auc_score(y, prior) + 0.1
