"""The weight-free engine's learned corrector on real GrabCut objects (small copies for speed)."""

import cv2
import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import run_click_protocol
from gazeseg.eval.datasets import load_dataset
from gazeseg.learn.refine import FEATURE_NAMES, PixelRefiner, RefinedEngine


def _small(obj, factor=2):
    image = obj.load_image()
    gt, ignore = obj.load()
    h, w = gt.shape
    size = (w // factor, h // factor)
    shrink = lambda m: cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0  # noqa: E731
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), shrink(gt), (shrink(ignore) if ignore is not None else None)


@pytest.fixture(scope="module")
def objects(data_dir):
    return [_small(o) for o in load_dataset(data_dir / "grabcut", limit=4)]


def test_refiner_learns_from_accepted_masks(objects, tmp_path):
    engine = RefinedEngine(create_engine("classic"), PixelRefiner(grid=96, pixels_per_view=1500))
    emb0 = engine.embed(objects[3][0])
    untrained = engine.predict(emb0, PromptSet(points_xy=np.array([[50.0, 50.0]]), labels=np.array([1])))
    base = engine.base.predict(emb0.payload["inner"], PromptSet(points_xy=np.array([[50.0, 50.0]]), labels=np.array([1])))
    np.testing.assert_array_equal(untrained.masks, base.masks)  # unfitted: the base engine's answer

    for image, gt, ignore in objects[:3]:
        engine.learn(image, gt, ignore=ignore, clicks=2, fit=False)
    engine.refiner.fit()
    assert engine.refiner.is_fitted and engine.refiner.n_samples == 3
    x = np.concatenate(engine.refiner._x)
    y = np.concatenate(engine.refiner._y)
    assert x.shape[1] == len(FEATURE_NAMES)
    # the learned corrector agrees with the accepted masks more often than the engine's own best candidate
    base_acc = np.mean((x[:, FEATURE_NAMES.index("cand_best")] > 0.5) == y)
    learned_acc = np.mean((engine.refiner.predict_proba(x) > 0.5) == y)
    assert learned_acc > base_acc

    image, gt, ignore = objects[3]
    emb = engine.embed(image)
    trace = run_click_protocol(engine, emb, gt, ignore, max_clicks=3)
    assert len(trace.ious) >= 1 and all(0.0 <= v <= 1.0 for v in trace.ious)

    path = engine.refiner.save(tmp_path / "refiner.pkl")
    again = RefinedEngine(engine.base, PixelRefiner.load(path))
    prompts = PromptSet(points_xy=np.array([trace.points_xy[0]]), labels=np.array([1]))
    np.testing.assert_array_equal(again.predict(again.embed(image), prompts).masks, engine.predict(emb, prompts).masks)


def test_refiner_rejects_bad_input(objects):
    engine = RefinedEngine(create_engine("classic"))
    image, gt, _ = objects[0]
    with pytest.raises(InputError, match="empty"):
        engine.learn(image, np.zeros_like(gt))
    with pytest.raises(InputError, match="does not match"):
        engine.learn(image, gt[:-5])
    with pytest.raises(InputError, match="not trained"):
        engine.refiner.predict_proba(np.zeros((2, len(FEATURE_NAMES)), np.float32))
