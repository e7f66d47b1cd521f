"""The classic engine's learnt parameters: search, the defaults win ties, the saved file round-trips."""

import dataclasses

import cv2
import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.engines.classic import ClassicParams
from gazeseg.eval.datasets import load_dataset
from gazeseg.learn.classic_tuner import load_params, save_params, score_params, tune_classic


@pytest.fixture(scope="module")
def objects(data_dir):
    chosen = [o for o in load_dataset(data_dir / "grabcut") if o.name.split(".")[0] in ("teddy", "banana1")]
    out = []
    for o in chosen:  # half size: the search replays clicks for every candidate value
        gt, ignore = o.load()
        h, w = gt.shape
        size = (w // 2, h // 2)
        out.append((cv2.resize(o.load_image(), size, interpolation=cv2.INTER_AREA),
                    cv2.resize(gt.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0,
                    cv2.resize(ignore.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0))
    return out


def test_tuner_keeps_a_value_only_when_it_scores_higher(objects):
    images, masks, ignores = zip(*objects, strict=True)
    grid = {"whole_bias": (0.0, 0.6)}
    result = tune_classic(images, masks, ignores, grid=grid, clicks=2)
    tried = {value: score for _, value, score in result.trials}
    assert set(tried) == {0.0, 0.6} and result.n_objects == 2
    best_value = max(tried, key=tried.get)
    if tried[best_value] >= result.default_score + 0.005:
        assert result.params.whole_bias == best_value and result.score == tried[best_value]
    else:  # no clear gain: the defaults stay
        assert result.params == ClassicParams() and result.score == result.default_score
    assert result.score == pytest.approx(score_params(result.params, images, masks, ignores, clicks=2))
    # an unreachable bar keeps the defaults whatever the scores
    assert tune_classic(images, masks, ignores, grid=grid, clicks=2, min_gain=2.0).params == ClassicParams()


def test_params_round_trip(tmp_path):
    params = dataclasses.replace(ClassicParams(), whole_bias=0.3, prior_reach=(0.1, 0.2, 10.0))
    assert load_params(save_params(params, tmp_path / "p.json")) == params


@pytest.mark.parametrize("bad", ["grid", "lengths", "empty", "file"])
def test_bad_input_is_a_clear_error(tmp_path, bad):
    image, mask = np.zeros((20, 20, 3), np.uint8), np.ones((20, 20), bool)
    with pytest.raises(InputError):
        if bad == "grid":
            tune_classic([image], [mask], grid={"work_sise": (1,)})
        elif bad == "lengths":
            tune_classic([image, image], [mask])
        elif bad == "empty":
            tune_classic([image], [np.zeros((20, 20), bool)])
        else:
            (tmp_path / "p.json").write_text('{"nope": 1}')
            load_params(tmp_path / "p.json")
