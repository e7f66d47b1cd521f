"""The gaze protocol end to end on real GrabCut images with the classic engine."""

from __future__ import annotations

import numpy as np
import pytest

from gazeseg.engines.registry import create_engine
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.gaze_protocol import object_seed, region_width, run_gaze_protocol
from gazeseg.eval.metrics import iou
from gazeseg.eval.runner import make_strategy


@pytest.fixture(scope="module")
def engine():
    return create_engine("classic")


@pytest.fixture(scope="module")
def objects(data_dir):
    chosen = {"153077", "189080"}
    found = [o for o in load_dataset(data_dir / "grabcut") if o.name in chosen]
    assert len(found) == 2
    return found


def test_region_width_is_twice_the_distance_to_the_edge():
    region = np.zeros((50, 50), bool)
    region[10:30, 10:40] = True  # 20 rows high
    assert region_width(region, (25.0, 20.0)) == pytest.approx(20.0, abs=1.0)
    assert region_width(region, (10.0, 10.0)) == pytest.approx(2.0, abs=0.5)


def test_object_seed_is_order_free_and_seed_dependent():
    assert object_seed(0, "a") == object_seed(0, "a")
    assert object_seed(0, "a") != object_seed(1, "a")
    assert object_seed(0, "a") != object_seed(0, "b")


def test_protocol_runs_records_and_improves(engine, objects):
    for obj in objects:
        gt, ignore = obj.load()
        embedding = engine.embed(obj.load_image())
        strategy = make_strategy("fixation", "tobii-pro-nano")
        trace = run_gaze_protocol(
            engine, embedding, gt, ignore, strategy, preset="tobii-pro-nano",
            seed=object_seed(0, obj.name), max_looks=3, stop_iou=0.95, keep_masks=True,
        )
        assert 1 <= len(trace.ious) <= 3 and len(trace.looks) == len(trace.ious)
        # Reported IoUs are the IoUs of the kept masks (no bookkeeping drift).
        for value, mask in zip(trace.ious, trace.masks):
            assert value == pytest.approx(iou(mask, gt, ignore))
        assert trace.first_iou > 0.3, f"{obj.name}: first look missed the object ({trace.first_iou:.2f})"
        assert max(trace.ious) >= trace.first_iou
        # Every look was timed and has a positive Fitts width on the screen.
        assert all(look.width_px >= 1 and look.engine_s > 0 for look in trace.looks)


def test_same_seed_same_gaze_for_both_strategies(engine, objects):
    obj = objects[0]
    gt, ignore = obj.load()
    embedding = engine.embed(obj.load_image())
    runs = [
        run_gaze_protocol(engine, embedding, gt, ignore, make_strategy(name, "webcam"), preset="webcam",
                          seed=7, max_looks=1, stop_iou=None, keep_masks=True)
        for name in ("gazesam-point", "fixation")
    ]
    np.testing.assert_array_equal(runs[0].gaze_xy[0], runs[1].gaze_xy[0])
    again = run_gaze_protocol(engine, embedding, gt, ignore, make_strategy("fixation", "webcam"), preset="webcam",
                              seed=7, max_looks=1, stop_iou=None)
    assert again.ious == runs[1].ious


def test_empty_ground_truth_is_refused(engine, objects):
    obj = objects[0]
    gt, _ = obj.load()
    embedding = engine.embed(obj.load_image())
    with pytest.raises(ValueError, match="empty"):
        run_gaze_protocol(engine, embedding, np.zeros_like(gt), None, make_strategy("fixation", "webcam"))
