"""The learnt size prior: fitted from accepted masks, it changes only the first-look choice."""

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.engines.classic import ClassicEngine
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.learn.area_prior import AreaPrior, AreaPriorEngine, FirstLook, fit_area_prior, replay_first_look


def _look(best: int, areas=(0.01, 0.1, 0.8)) -> FirstLook:
    """Three candidates; the engine prefers the widest; ``best`` is the one the user meant."""
    ious = np.full(3, 0.2)
    ious[best] = 0.9
    return FirstLook(scores=np.array([0.5, 0.55, 0.7]), areas=np.array(areas), ious=ious, mask_area=areas[best])


def test_prior_learns_the_usual_size_and_a_weight_that_fixes_the_choice():
    prior = fit_area_prior([_look(1) for _ in range(4)] + [_look(1, (0.02, 0.12, 0.7))])
    assert prior.n == 5 and 0.09 < np.exp(prior.mu) < 0.12 and prior.sd >= 0.3
    assert prior.weight > 0
    look = _look(1)
    assert int(np.argmax(prior.rescore(look.scores, look.areas))) == 1
    # masks whose best candidate the engine already picks: nothing to gain, the prior stays off
    agree = fit_area_prior([_look(2) for _ in range(3)])
    assert agree.weight == 0 and int(np.argmax(agree.rescore(_look(2).scores, _look(2).areas))) == 2


def test_prior_round_trips_and_bad_files_are_clear(tmp_path):
    prior = AreaPrior(mu=-2.0, sd=0.5, weight=0.2, n=7)
    assert AreaPrior.load(prior.save(tmp_path / "a.json")) == prior
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(InputError, match="area prior"):
        AreaPrior.load(tmp_path / "b.json")
    with pytest.raises(InputError, match="at least one"):
        fit_area_prior([])


def test_wrapper_changes_only_the_first_look(data_dir):
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name.startswith("banana1"))
    gt, ignore = obj.load()
    base = ClassicEngine()
    emb = base.embed(obj.load_image())
    look = replay_first_look(base, emb, gt, ignore)
    assert len(look.ious) == 3 and abs(look.mask_area - gt.mean()) < 1e-9
    smallest = int(np.argmin(look.areas))
    prior = AreaPrior(mu=float(np.log(look.areas[smallest])), sd=0.3, weight=50.0)  # insists on the smallest
    engine = AreaPriorEngine(base, prior)
    first = PromptSet(points_xy=np.array([interior_point(gt, ignore)]), labels=np.array([1]))  # the replayed click
    single = engine.predict(emb, first, multimask=False)
    multi = engine.predict(emb, first, multimask=True)
    assert single.masks.shape[0] == 1 and multi.best_index == smallest
    np.testing.assert_array_equal(single.masks[0], multi.masks[smallest])
    later = first.with_points(np.array([[50.0, 40.0]]), np.array([0]))
    np.testing.assert_array_equal(engine.predict(emb, later, multimask=False).masks, base.predict(emb, later, multimask=False).masks)
