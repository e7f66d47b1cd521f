"""Implicit recalibration: a tracker's offset learnt from accepted masks of real GrabCut objects."""

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
    """(raw gaze, accepted object's anchor, its size) in screen px for a simulated user's first looks."""
    geometry = ViewingGeometry()
    pairs = []
    for k, gt in enumerate(masks):
        viewport = Viewport.fit(gt.shape[1], gt.shape[0], geometry)
        sim = GazeSimulator("webcam", geometry, viewport, rng=seed + k)
        landing = viewport.image_to_screen(sim.landing_point(gt)[None])[0]
        anchor = viewport.image_to_screen(mask_anchor(gt)[None])[0]
        pairs.append((landing + offset_px, anchor, float(np.sqrt(gt.sum())) * viewport.scale))
    return pairs


def _learn(pairs, **kw):
    recal = ImplicitRecalibration(max_shift_px=kw.pop("max_shift_px", 1000), **kw)
    remaining = []
    for raw, anchor, size in pairs:
        remaining.append(recal.shift_px.copy())
        assert recal.observe(raw, anchor, target_size_px=size)
    return recal, remaining


def test_learns_a_webcam_offset_from_accepted_objects(grabcut_masks):
    offset = np.array([190.0, -135.0])  # screen px, 4 deg: a webcam's typical miss
    recal, before = _learn(_first_looks(grabcut_masks, offset))
    errors = [float(np.hypot(*(shift + offset))) for shift in before]
    final = float(np.hypot(*(recal.shift_px + offset)))
    assert errors[:3] == pytest.approx([np.hypot(*offset)] * 3)  # fewer than 3 objects: no correction
    # where people land on an object scatters by about a quarter of its size (~120 px here), so
    # one pair is noisy; a dozen objects bring the error well under the raw offset (233 px)
    assert final < 0.35 * np.hypot(*offset), f"remaining error {final:.0f} px"
    assert final < errors[3], "later objects must be corrected better than the first corrected one"


def test_a_good_trackers_small_offset_is_left_alone(grabcut_masks):
    # 0.3 deg (a Tobii Pro Nano): smaller than what a dozen first looks can tell from landing scatter
    recal, _ = _learn(_first_looks(grabcut_masks, np.array([14.0, -10.0])))
    assert np.allclose(recal.shift_px, 0.0)


def test_wrong_masks_are_voted_out_and_corrections_are_capped(grabcut_masks):
    pairs = _first_looks(grabcut_masks, np.zeros(2))
    pairs[1] = (np.array([500.0, 500.0]), np.array([1500.0, 900.0]), 300.0)  # a mask on another object, 1,077 px away
    recal, _ = _learn(pairs)
    assert np.hypot(*recal.shift_px) < 10
    same = [(np.array([500.0, 500.0]), np.array([1500.0, 900.0]), 50.0)] * 3  # three agreeing pairs, far off
    recal, _ = _learn(same, max_shift_px=100)
    assert np.hypot(*recal.shift_px) == pytest.approx(100)


def test_lost_looks_are_ignored_frames_checked_and_state_round_trips():
    recal = ImplicitRecalibration(max_shift_px=100, min_samples=2)
    assert not recal.observe([np.nan, 3.0], [10.0, 10.0], target_size_px=50)
    assert not recal.observe([3.0, 3.0], [10.0, 10.0], target_size_px=0)
    assert recal.n_samples == 0
    for _ in range(2):
        recal.observe([0.0, 0.0], [40.0, -40.0], target_size_px=20)
    assert recal.shift_px[0] > 20 and recal.shift_px[1] < -20
    t = np.arange(4) / 60
    raw = GazeSamples(t, np.array([[10.0, 10], [np.nan, np.nan], [12, 11], [11, 9]]), np.array([True, False, True, True]), frame="screen_px")
    moved = recal.apply(raw)
    assert np.allclose(moved.xy[[0, 2, 3]] - raw.xy[[0, 2, 3]], recal.shift_px)
    assert np.array_equal(moved.valid, raw.valid) and np.isnan(moved.xy[1]).all()
    assert np.allclose(ImplicitRecalibration.from_dict(recal.to_dict()).shift_px, recal.shift_px)
    with pytest.raises(InputError, match="screen_px"):
        recal.apply(GazeSamples(t, raw.xy / 1000, raw.valid, frame="display_norm"))
    with pytest.raises(InputError, match="max_shift_px"):
        ImplicitRecalibration(max_shift_px=0)
    with pytest.raises(InputError, match="differ in length"):
        ImplicitRecalibration.from_dict({"max_shift_px": 10, "residuals": [[1, 2]], "weights": []})


def test_anchor_of_a_concave_object_lies_on_it():
    ring = np.zeros((101, 101), bool)
    rr, cc = np.ogrid[:101, :101]
    d = np.hypot(rr - 50, cc - 50)
    ring[(d > 30) & (d < 45)] = True  # its centroid (50, 50) is off the object
    x, y = mask_anchor(ring)
    assert ring[int(y), int(x)]
    with pytest.raises(InputError, match="empty"):
        mask_anchor(np.zeros((5, 5), bool))
