import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples
from gazeseg.gaze.fixations import OnlineIDT, OnlineIVT, fixation_labels, idt, ivt
from gazeseg.gaze.recording import read_raw_pixels
from gazeseg.gaze.simulator import GazeSimulator
from gazeseg.gaze.transforms import to_image_px

RAW_GEOMETRY = ViewingGeometry(screen_w_px=1280, screen_h_px=1024, screen_w_mm=380, screen_h_mm=302, distance_mm=680)


@pytest.fixture(scope="module")
def raw(data_dir):
    return read_raw_pixels(data_dir / "gaze_raw" / "data" / "trial_0_1.csv", screen_w_px=1280, screen_h_px=1024, origin="lower left")


def test_real_reading_gives_plausible_fixations(raw):
    ppd = RAW_GEOMETRY.px_per_deg
    for detector in (idt, ivt):
        fixations = detector(raw, px_per_deg=ppd)
        durations = np.array([f.duration_s for f in fixations])
        # Reading: roughly 3-5 fixations per second, median duration 0.15-0.3 s (Rayner 1998).
        assert 2.0 < len(fixations) / raw.duration_s < 6.0
        assert 0.12 < np.median(durations) < 0.35
        assert all(f.end_s >= f.start_s for f in fixations)
        assert all(b.start_s > a.end_s for a, b in zip(fixations, fixations[1:]))


def test_online_detectors_match_offline_on_chunked_stream(raw):
    ppd = RAW_GEOMETRY.px_per_deg
    for online, offline in ((OnlineIDT, idt), (OnlineIVT, ivt)):
        detector = online(px_per_deg=ppd, frame="screen_px")
        found = []
        for start in range(0, len(raw), 37):
            found += detector.push(raw.select(slice(start, start + 37)))
        found += detector.flush()
        expected = offline(raw, px_per_deg=ppd)
        assert [(f.start_s, f.end_s) for f in found] == [(f.start_s, f.end_s) for f in expected]


def test_idt_and_ivt_agree_on_most_samples(raw):
    ppd = RAW_GEOMETRY.px_per_deg
    a = fixation_labels(raw, idt(raw, px_per_deg=ppd))
    b = fixation_labels(raw, ivt(raw, px_per_deg=ppd))
    assert np.mean(a == b) > 0.8


def test_simulated_fixations_are_recovered():
    geometry = ViewingGeometry()
    viewport = Viewport.fit(800, 600, geometry)
    sim = GazeSimulator("tobii-pro-spectrum", geometry, viewport, rng=3)
    targets = np.array([[100, 100], [600, 150], [400, 500], [700, 500]], float)
    samples, intended = sim.scanpath(targets, dwell_s=0.4)
    image = to_image_px(samples, geometry, viewport)
    ppd = viewport.image_px_per_deg(geometry)
    found = idt(image, px_per_deg=ppd)
    assert len(found) >= len(targets)
    for target in targets:  # each intended fixation is found within the device accuracy + 1 deg
        distance = min(np.hypot(f.x - target[0], f.y - target[1]) for f in found)
        assert distance < 1.5 * ppd


def test_invalid_samples_end_a_fixation():
    t = np.arange(60) / 100
    xy = np.full((60, 2), 100.0)
    valid = np.ones(60, bool)
    valid[30] = False
    xy[30] = np.nan
    fixations = idt(GazeSamples(t, xy, valid, frame="image_px"), px_per_deg=30)
    assert len(fixations) == 2


def test_current_fixation_reported_after_min_duration():
    detector = OnlineIDT(px_per_deg=30, min_duration_s=0.1)
    t = np.arange(5) / 100
    detector.push(GazeSamples(t, np.full((5, 2), 50.0), np.ones(5, bool), frame="image_px"))
    assert detector.current is None
    t = np.arange(5, 15) / 100
    detector.push(GazeSamples(t, np.full((10, 2), 50.0), np.ones(10, bool), frame="image_px"))
    assert detector.current is not None and detector.current.x == pytest.approx(50.0)


def test_bad_thresholds_are_rejected():
    with pytest.raises(InputError, match="px_per_deg"):
        OnlineIDT(px_per_deg=0)
    with pytest.raises(InputError, match="px_per_deg"):
        ivt(GazeSamples.empty("image_px"), px_per_deg=float("nan"))
