"""The standard click protocol on real images and on hand-checkable masks."""

import numpy as np
import pytest

from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import interior_point, miou_curve, next_click, run_click_protocol, summarize
from gazeseg.eval.datasets import load_dataset


def test_interior_point_is_the_deepest_pixel_outside_the_ignore_band():
    region = np.zeros((40, 60), bool)
    region[10:30, 5:25] = True  # a square whose centre is (14.5, 19.5)
    x, y = interior_point(region)
    assert 13 <= x <= 16 and 18 <= y <= 21
    ignore = np.zeros_like(region)
    ignore[:, :15] = True  # hide the left half: the centre moves right
    assert interior_point(region, ignore)[0] > x
    assert interior_point(np.zeros_like(region)) is None


def test_next_click_goes_to_the_largest_error_with_the_right_sign():
    gt = np.zeros((50, 50), bool)
    gt[5:45, 5:25] = True
    pred = gt.copy()
    pred[5:45, 5:10] = False  # a thin missed strip
    pred[10:40, 30:48] = True  # a big false region
    (x, y), label = next_click(pred, gt)
    assert label == 0 and 30 <= x < 48 and 10 <= y < 40
    assert next_click(gt, gt) is None


def test_protocol_on_real_images(data_dir):
    engine = create_engine("classic")
    objects = [o for o in load_dataset(data_dir / "grabcut") if o.name in ("teddy", "189080")]
    assert len(objects) == 2
    traces = []
    for obj in objects:
        gt, ignore = obj.load()
        trace = run_click_protocol(engine, engine.embed(obj.load_image()), gt, ignore, max_clicks=4)
        assert len(trace.ious) == len(trace.labels) == len(trace.seconds) == 4
        assert trace.labels[0] == 1 and max(trace.ious) >= trace.ious[0] - 0.02
        traces.append(trace)
    s = summarize(traces, max_clicks=4)
    assert s["objects"] == 2 and 0 < s["miou@1"] <= 1 and 1 <= s["noc@90"] <= 4
    assert miou_curve(traces, 4)[0] == pytest.approx(s["miou@1"])
    with pytest.raises(ValueError, match="empty"):
        run_click_protocol(engine, engine.embed(objects[0].load_image()), np.zeros_like(gt), None)
