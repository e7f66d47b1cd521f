"""Implicit recalibration: a webcam's offset learnt from accepted masks of real GrabCut objects."""

from __future__ import annotations

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples
from gazeseg.eval.datasets import load_dataset
from gazeseg.gaze.implicit_calibration import ImplicitRecalibration, mask_anchor
from gazeseg.gaze.simulator import GazeSimulator


@pytest.fixture(scope="module")
def grabcut_masks(data_dir):
    return [o.load()[0] for o in load_dataset(data_dir / "grabcut", limit=12)]


def _first_looks(masks, offset_px, seed=0):
    """(raw gaze, accepted object's anchor, its size) in screen px for a simulated webcam user's first looks."""
    geometry = ViewingGeometry()
    pairs = []
    for k, gt in enumerate(masks):
        viewport = Viewport.fit(gt.shape[1], gt.shape[0], geometry)
        sim = GazeSimulator("webcam", geometry, viewport, rng=seed + k)
        landing = viewport.image_to_screen(sim.landing_point(gt)[None])[0]
        anchor = viewport.image_to_screen(mask_anchor(gt)[None])[0]
        pairs.append((landing + offset_px, anchor, float(np.sqrt(gt.sum())) * viewport.scale))
    return pairs


def test_learns_a_webcam_offset_from_accepted_objects(grabcut_masks):
    offset = np.array([140.0, -90.0])  # screen px, about 3 deg: a typical webcam miss
    recal = ImplicitRecalibration(max_shift_px=400)
    assert np.allclose(recal.shift_px, 0)  # nothing learnt: no correction
    errors = []
    for raw, anchor, size in _first_looks(grabcut_masks, offset):
        errors.append(float(np.hypot(*(recal.shift_px + offset))))
        assert recal.observe(raw, anchor, target_size_px=size)
    final = float(np.hypot(*(recal.shift_px + offset)))
    # Where people land on an object scatters around its centre, so one pair is noisy; a dozen
    # objects bring the remaining error well under the raw offset (166 px).
    assert final < 0.35 * np.hypot(*offset), f"remaining error {final:.0f} px"
    assert errors[0] == pytest.approx(np.hypot(*offset))
    assert final < errors[1], "later objects must be corrected better than the second one"


def test_one_wrong_mask_moves_gaze_little_and_never_beyond_the_cap(grabcut_masks):
    recal = ImplicitRecalibration(max_shift_px=100)
    recal.observe([500, 500], [1500, 900], target_size_px=300)  # a mask on the wrong object, 1,077 px away
    assert np.hypot(*recal.shift_px) == pytest.approx(100)  # capped
    recal = ImplicitRecalibration(max_shift_px=10_000, prior_samples=2)
    recal.observe([500, 500], [800, 500], target_size_px=300)
    assert recal.shift_px[0] == pytest.approx(100)  # one sample against a prior of two: a third
    for raw, anchor, size in _first_looks(grabcut_masks, np.zeros(2)):
        recal.observe(raw, anchor, target_size_px=size)  # then the right objects: the outlier is voted out
    assert np.hypot(*recal.shift_px) < 40


def test_lost_looks_are_ignored_and_frames_are_checked():
    recal = ImplicitRecalibration(max_shift_px=100)
    assert not recal.observe([np.nan, 3.0], [10.0, 10.0], target_size_px=50)
    assert not recal.observe([3.0, 3.0], [10.0, 10.0], target_size_px=0)
    assert recal.n_samples == 0
    recal.observe([0.0, 0.0], [30.0, -30.0], target_size_px=50)
    t = np.arange(4) / 60
    raw = GazeSamples(t, np.array([[10.0, 10], [np.nan, np.nan], [12, 11], [11, 9]]), np.array([True, False, True, True]), frame="screen_px")
    moved = recal.apply(raw)
    assert np.allclose(moved.xy[[0, 2, 3]] - raw.xy[[0, 2, 3]], recal.shift_px)
    assert np.array_equal(moved.valid, raw.valid) and np.isnan(moved.xy[1]).all()
    with pytest.raises(InputError, match="screen_px"):
        recal.apply(GazeSamples(t, raw.xy / 1000, raw.valid, frame="display_norm"))
    with pytest.raises(InputError, match="max_shift_px"):
        ImplicitRecalibration(max_shift_px=0)


def test_anchor_of_a_concave_object_lies_on_it():
    ring = np.zeros((101, 101), bool)
    rr, cc = np.ogrid[:101, :101]
    d = np.hypot(rr - 50, cc - 50)
    ring[(d > 30) & (d < 45)] = True  # its centroid (50, 50) is off the object
    x, y = mask_anchor(ring)
    assert ring[int(y), int(x)]
    with pytest.raises(InputError, match="empty"):
        mask_anchor(np.zeros((5, 5), bool))
