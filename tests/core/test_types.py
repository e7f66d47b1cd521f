import numpy as np
import pytest

from gazeseg.core.types import GazeSamples, MaskPrediction, PromptSet


def test_promptset_normalises_and_validates():
    prompts = PromptSet([[1, 2]], [1])
    assert prompts.points_xy.shape == (1, 2) and prompts.labels.tolist() == [1]
    assert not prompts.is_empty and PromptSet().is_empty
    more = prompts.with_points([[3, 4]], [0])
    assert more.labels.tolist() == [1, 0] and len(prompts.points_xy) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(points_xy=[[1, 2]], labels=[1, 0]), "labels"),
        (dict(points_xy=[[1, 2]], labels=[2]), "labels"),
        (dict(points_xy=[[np.nan, 2]], labels=[1]), "NaN"),
        (dict(box_xyxy=[10, 10, 5, 20]), "x0 < x1"),
    ],
    ids=["count-mismatch", "bad-label", "nan-point", "inverted-box"],
)
def test_promptset_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PromptSet(**kwargs)


def test_cache_key_equal_for_equal_prompts():
    a = PromptSet([[1.0001, 2]], [1], box_xyxy=[0, 0, 5, 5])
    b = PromptSet([[1.0, 2]], [1], box_xyxy=[0, 0, 5, 5])
    c = PromptSet([[1.5, 2]], [1], box_xyxy=[0, 0, 5, 5])
    assert a.cache_key() == b.cache_key() != c.cache_key()


def test_gaze_samples_select_and_concat():
    n = 5
    block = GazeSamples(np.arange(n) / 60, np.random.default_rng(0).random((n, 2)), np.ones(n, bool), pupil_mm=np.full(n, 3.0))
    both = GazeSamples.concat([block, block.select(slice(1, 3))])
    assert len(both) == 7 and both.pupil_mm is not None
    with pytest.raises(ValueError, match="shape"):
        GazeSamples(np.zeros(3), np.zeros((2, 2)), np.ones(3, bool))


def test_mask_prediction_best():
    masks = np.zeros((3, 4, 4), bool)
    masks[1, :2] = True
    prediction = MaskPrediction(masks, np.array([0.2, 0.9, 0.5]), np.zeros((3, 256, 256), np.float32))
    assert prediction.best_index == 1 and prediction.best_mask.sum() == 8
