"""Sources: LSL for real (a local outlet), Tobii and Pupil Labs through faithful fakes of their
client APIs, the webcam through a fake landmarker plus the real calibration regression."""

import math
import time
import types

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.gaze.sources import SourceError, create_source
from gazeseg.gaze.sources.mouse import MouseSource
from gazeseg.gaze.sources.replay import ReplaySource
from gazeseg.gaze.sources.tobii import TobiiSource, combine_eyes
from gazeseg.gaze.sources.webcam import WebcamCalibration, WebcamSource, eye_features
from gazeseg.core.types import GazeSamples


def _read_until(source, n, timeout=5.0):
    got = []
    end = time.monotonic() + timeout
    while sum(len(b) for b in got) < n and time.monotonic() < end:
        got.append(source.read(timeout_s=0.1))
    return GazeSamples.concat([b for b in got if len(b)] or [GazeSamples.empty(source.frame)])


def test_lsl_stream_for_real_and_disconnect():
    pylsl = pytest.importorskip("pylsl")
    name = f"gazeseg-test-{time.monotonic_ns()}"
    info = pylsl.StreamInfo(name, "Gaze", 3, 120, "float32", name)
    outlet = pylsl.StreamOutlet(info)
    source = create_source("lsl", stream_name=name, resolve_timeout_s=5, stall_timeout_s=1.0).start()
    time.sleep(0.5)
    for i in range(60):
        outlet.push_sample([0.25 + i * 0.001, 0.75, 3.0] if i != 10 else [math.nan, math.nan, 0.0])
        time.sleep(0.002)
    samples = _read_until(source, 60)
    assert len(samples) == 60
    assert samples.valid.sum() == 59 and not samples.valid[10]
    assert samples.xy[0] == pytest.approx([0.25, 0.75], abs=1e-6)
    assert np.all(np.diff(samples.t_s) > 0)
    del outlet  # the tracker app goes away: the reader gets a clear error, recorded samples stay
    with pytest.raises(SourceError, match="lsl"):
        end = time.monotonic() + 5
        while time.monotonic() < end:
            source.read(timeout_s=0.2)
    assert len(source.recorded()) == 60
    source.stop()


def test_lsl_missing_stream_is_explained():
    pytest.importorskip("pylsl")
    with pytest.raises(SourceError, match="no LSL stream"):
        create_source("lsl", stream_name="does-not-exist", resolve_timeout_s=0.3).start()


def _fake_tobii():
    """The subset of tobii_research the source uses, with the SDK's gaze-data dictionary keys."""
    sdk = types.SimpleNamespace(EYETRACKER_GAZE_DATA="gaze_data", EYETRACKER_NOTIFICATION_CONNECTION_LOST="lost")

    class EyeTracker:
        def __init__(self, address="tet-tcp://fake"):
            self.address = address
            self.callbacks = {}

        def subscribe_to(self, stream, callback, as_dictionary=False):
            assert as_dictionary
            self.callbacks[stream] = callback

        def unsubscribe_from(self, stream, callback=None):
            self.callbacks.pop(stream, None)

        def emit(self, t_us, left, right, left_ok=1, right_ok=1):
            self.callbacks["gaze_data"]({
                "device_time_stamp": t_us, "system_time_stamp": t_us,
                "left_gaze_point_on_display_area": left, "left_gaze_point_validity": left_ok,
                "right_gaze_point_on_display_area": right, "right_gaze_point_validity": right_ok,
                "left_pupil_diameter": 3.1, "left_pupil_validity": left_ok,
                "right_pupil_diameter": 3.3, "right_pupil_validity": right_ok,
                "left_gaze_point_in_user_coordinate_system": (0, 0, 0),
                "right_gaze_point_in_user_coordinate_system": (0, 0, 0),
            })

    tracker = EyeTracker()
    sdk.EyeTracker = EyeTracker
    sdk.find_all_eyetrackers = lambda: [tracker]
    return sdk, tracker


def test_tobii_fake_sdk_binocular_and_blink():
    sdk, tracker = _fake_tobii()
    source = TobiiSource(sdk=sdk).start()
    tracker.emit(1_000_000, (0.4, 0.5), (0.6, 0.5))
    tracker.emit(1_016_667, (math.nan, math.nan), (0.62, 0.5), left_ok=0)
    tracker.emit(1_033_333, (math.nan, math.nan), (math.nan, math.nan), left_ok=0, right_ok=0)
    s = source.read()
    assert s.xy[0] == pytest.approx([0.5, 0.5])
    assert s.xy[1] == pytest.approx([0.62, 0.5])
    assert s.valid.tolist() == [True, True, False]
    assert s.t_s[1] - s.t_s[0] == pytest.approx(0.016667)
    assert s.pupil_mm[0] == pytest.approx(3.2)
    tracker.callbacks["lost"]({})
    with pytest.raises(SourceError, match="connection"):
        source.read()
    assert len(source.recorded()) == 3
    source.stop()
    assert "gaze_data" not in tracker.callbacks


def test_tobii_without_tracker():
    sdk, _ = _fake_tobii()
    sdk.find_all_eyetrackers = lambda: []
    with pytest.raises(SourceError, match="no Tobii eye tracker"):
        TobiiSource(sdk=sdk).start()


def test_combine_eyes_both_lost():
    x, y, ok, _ = combine_eyes({"left_gaze_point_validity": 0, "right_gaze_point_validity": 0})
    assert not ok and math.isnan(x)


def test_pupil_labs_fake_client_and_disconnect():
    data = [types.SimpleNamespace(x=800.0, y=600.0, worn=True, timestamp_unix_seconds=10.0 + i / 200) for i in range(5)]
    data[2].worn = False

    class Device:
        def __init__(self):
            self.closed = False

        def receive_gaze_datum(self, timeout_seconds=None):
            if data:
                return data.pop(0)
            raise ConnectionError("socket closed")

        def close(self):
            self.closed = True

    device = Device()
    api = types.SimpleNamespace(discover_one_device=lambda max_search_duration_seconds=None: device)
    source = create_source("pupil", api=api).start()
    s = _read_until(source, 5)
    assert s.xy[0] == pytest.approx([0.5, 0.5]) and s.valid.tolist() == [True, True, False, True, True]
    with pytest.raises(SourceError, match="stopped sending"):
        for _ in range(50):
            source.read(timeout_s=0.05)
    source.stop()
    assert device.closed


def test_mouse_and_replay(tmp_path):
    mouse = MouseSource().start()
    mouse.push(0.2, 0.3, t=1.0)
    mouse.push(float("nan"), 0.3, t=1.1)
    s = mouse.read()
    assert s.valid.tolist() == [True, False]
    samples = GazeSamples(np.arange(30) / 300, np.full((30, 2), 0.5), np.ones(30, bool))
    replay = ReplaySource(samples, speed=10).start()
    got = _read_until(replay, 30)
    assert len(got) == 30
    with pytest.raises(SourceError, match="end of recording"):
        replay.read()


def test_webcam_calibration_regression_for_real():
    rng = np.random.default_rng(0)
    # Features that depend smoothly (and non-linearly) on where the user looks.
    targets = rng.random((40, 2))
    feats = np.column_stack([targets[:, 0] * 0.3 + 0.35, targets[:, 1] * 0.1, np.full(40, 0.3),
                             targets[:, 0] * 0.3 + 0.33 + 0.02 * targets[:, 0] ** 2, targets[:, 1] * 0.1, np.full(40, 0.3),
                             np.full(40, 0.5), np.full(40, 0.55)]) + rng.normal(0, 0.002, (40, 8))
    model = WebcamCalibration().fit(feats[:30], targets[:30])
    error = np.linalg.norm(model.predict(feats[30:]) - targets[30:], axis=1)
    assert np.median(error) < 0.05
    with pytest.raises(InputError, match=">= 9"):
        WebcamCalibration().fit(feats[:5], targets[:5])


def test_webcam_source_with_fake_camera():
    landmarks = np.tile([0.5, 0.5], (478, 1)).astype(float)
    landmarks[33], landmarks[133], landmarks[468] = (0.40, 0.4), (0.46, 0.4), (0.43, 0.4)
    landmarks[362], landmarks[263], landmarks[473] = (0.54, 0.4), (0.60, 0.4), (0.57, 0.4)
    assert eye_features(landmarks)[0] == pytest.approx(0.5)

    class Camera:
        def __init__(self):
            self.frames = 5

        def isOpened(self):
            return True

        def read(self):
            self.frames -= 1
            return (self.frames >= 0), np.zeros((48, 64, 3), np.uint8)

    calibration = WebcamCalibration()
    calibration.coef = np.zeros((1 + 8 + 36, 2))
    calibration.coef[0] = [0.5, 0.4]
    calibration._mean, calibration._scale = np.zeros(8), np.ones(8)
    source = WebcamSource(capture=Camera(), landmarker=lambda frame: landmarks, calibration=calibration).start()
    s = _read_until(source, 5)
    assert len(s) == 5 and s.xy[0] == pytest.approx([0.5, 0.4])
    with pytest.raises(SourceError, match="camera stopped"):
        for _ in range(20):
            source.read(timeout_s=0.05)


def test_unknown_source_name():
    with pytest.raises(InputError, match="unknown"):
        create_source("ouija")
