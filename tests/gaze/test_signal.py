import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import Fixation, GazeSamples
from gazeseg.gaze.calibration import CalibrationModel, target_grid, validate
from gazeseg.gaze.filters import OneEuroFilter, detect_blinks, enforce_monotonic, fill_gaps, mark_invalid
from gazeseg.gaze.heatmap import gaze_heatmap
from gazeseg.gaze.simulator import PRESETS, GazeSimulator


def _samples(xy, valid=None, t=None, frame="display_norm"):
    xy = np.asarray(xy, float)
    n = len(xy)
    return GazeSamples(np.arange(n) / 60 if t is None else np.asarray(t, float), xy,
                       np.ones(n, bool) if valid is None else np.asarray(valid, bool), frame=frame)


def test_mark_invalid_catches_nan_and_off_display():
    s = mark_invalid(_samples([[0.5, 0.5], [np.nan, 0.2], [1.5, 0.5], [0.2, -0.4], [0.9, 0.1]]))
    assert s.valid.tolist() == [True, False, False, False, True]
    assert np.isnan(s.xy[~s.valid]).all()


def test_blinks_and_short_gaps():
    t = np.arange(120) / 100.0  # 100 Hz
    valid = np.ones(120, bool)
    valid[10:13] = False  # 30 ms dropout: filled
    valid[50:70] = False  # 200 ms: a blink, kept as a gap
    xy = np.column_stack([np.linspace(0.1, 0.9, 120), np.full(120, 0.5)])
    xy[~valid] = np.nan
    s = _samples(xy, valid, t)
    blinks = detect_blinks(s)
    assert len(blinks) == 1 and blinks[0][0] == pytest.approx(0.5)
    filled = fill_gaps(s)
    assert filled.valid[10:13].all() and not filled.valid[50:70].any()
    np.testing.assert_allclose(filled.xy[10:13, 0], xy[9, 0] + (np.arange(1, 4) / 4) * (xy[13, 0] - xy[9, 0]))


def test_timestamps_going_backwards_are_dropped_and_counted():
    s = _samples(np.full((5, 2), 0.5), t=[0.0, 0.1, 0.05, 0.2, 0.2])
    kept, dropped = enforce_monotonic(s)
    assert dropped == 2 and kept.t_s.tolist() == [0.0, 0.1, 0.2]


def test_one_euro_reduces_jitter_but_follows_saccades():
    rng = np.random.default_rng(0)
    n = 240
    truth = np.where(np.arange(n) < 120, 0.3, 0.7)
    xy = np.column_stack([truth + rng.normal(0, 0.01, n), np.full(n, 0.5)])
    out = OneEuroFilter(min_cutoff_hz=1.0, beta=5.0).filter(_samples(xy))
    still = slice(40, 110)
    assert np.std(out.xy[still, 0]) < 0.5 * np.std(xy[still, 0])
    assert abs(out.xy[135, 0] - 0.7) < 0.05  # caught up within 250 ms of the jump


def test_heatmap_is_duration_weighted():
    fixations = [Fixation(0, 0.6, 20, 20, "image_px"), Fixation(1, 1.2, 80, 60, "image_px"), Fixation(2, 2.2, 500, 500, "image_px")]
    heat = gaze_heatmap(fixations, (100, 120), sigma_px=5)
    assert heat.dtype == np.float32 and heat.max() == pytest.approx(1.0)
    assert heat[20, 20] > 2 * heat[60, 80] > 0
    with pytest.raises(InputError):
        gaze_heatmap(fixations, (100, 120), sigma_px=0)


def test_simulator_device_error_matches_preset():
    geometry = ViewingGeometry()
    viewport = Viewport.fit(800, 600, geometry)
    for name in ("tobii-pro-nano", "webcam"):
        errors = []
        for seed in range(20):
            sim = GazeSimulator(name, geometry, viewport, rng=seed)
            samples, _ = sim.scanpath(np.array([[400.0, 300.0]]), dwell_s=1.0, start_xy=viewport.image_to_screen(np.array([[400.0, 300.0]]))[0])
            assert abs(len(samples) - PRESETS[name].sampling_rate_hz) <= 2
            screen = geometry.norm_to_screen_px(samples.xy[samples.valid])
            centre = viewport.image_to_screen(np.array([[400.0, 300.0]]))[0]
            errors.append(geometry.px_to_deg(np.linalg.norm(np.median(screen, 0) - centre)))
        assert 0.5 * PRESETS[name].accuracy_deg < np.mean(errors) < 1.6 * PRESETS[name].accuracy_deg


def test_landing_point_is_on_the_object(rng):
    mask = np.zeros((200, 300), bool)
    mask[50:150, 100:140] = True
    mask[60:70, 140:280] = True  # an L shape whose centroid is off the object
    sim = GazeSimulator("tobii-pro-nano", ViewingGeometry(), Viewport.fit(300, 200, ViewingGeometry()), rng=rng)
    for _ in range(30):
        x, y = sim.landing_point(mask)
        assert mask[int(y), int(x)]


def test_validation_reports_degrees_and_calibration_fixes_offset():
    geometry = ViewingGeometry()
    targets = geometry.norm_to_screen_px(target_grid(9))
    rng = np.random.default_rng(1)
    shift = geometry.deg_to_px(1.0)
    samples = [t + [shift, 0] + rng.normal(0, 2, (60, 2)) for t in targets]
    report = validate(targets, samples, geometry)
    assert report.accuracy_deg == pytest.approx(1.0, abs=0.15)
    assert 0 < report.precision_rms_deg < 0.3
    drift = CalibrationModel("offset").fit(np.array([s.mean(0) for s in samples]), targets)
    fixed = validate(targets, [drift.apply(s) for s in samples], geometry)
    assert fixed.accuracy_deg < 0.1
    round_trip = CalibrationModel.from_dict(drift.to_dict())
    np.testing.assert_allclose(round_trip.apply(targets), drift.apply(targets))


def test_affine_calibration_maps_display_to_page():
    display = target_grid(9)
    page = display * [1200, 700] + [35, 120]  # page sits inside the screen with its own scale
    model = CalibrationModel().fit(display, page)
    np.testing.assert_allclose(model.apply(np.array([0.5, 0.5])), [635, 470], atol=1e-6)
    with pytest.raises(InputError, match="at least 3"):
        CalibrationModel().fit(display[:2], page[:2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=50))
def test_cleaning_never_crashes_and_never_keeps_nan(points):
    s = mark_invalid(_samples(np.array(points, float).reshape(-1, 2)))
    assert np.all(np.isfinite(s.xy[s.valid]))
    filled = fill_gaps(s)
    assert np.all(np.isfinite(filled.xy[filled.valid]))
