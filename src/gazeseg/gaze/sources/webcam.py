"""Webcam gaze: MediaPipe face landmarks with irises, mapped to the screen by a calibration.

MediaPipe 0.10.14 ships its face-mesh model inside the wheel, so this works offline. Accuracy
is a few degrees at best (WebGazer reports ~4 deg), so prompts from it need the ``fixation``
strategy's tolerance. The regression is ridge on quadratic features of eye-in-head and head
position, refitted from the calibration targets (in-page or ``gazeseg gaze calibrate``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError, MissingDependencyError
from gazeseg.gaze.sources.base import GazeSource

# MediaPipe face-mesh indices (refine_landmarks=True adds the irises, 468-477).
LEFT_IRIS, RIGHT_IRIS = 468, 473
LEFT_CORNERS, RIGHT_CORNERS = (33, 133), (362, 263)
LEFT_LIDS, RIGHT_LIDS = (159, 145), (386, 374)
NOSE_TIP = 1


def eye_features(landmarks: np.ndarray) -> np.ndarray:
    """Features from (478, 2|3) normalised landmarks: iris position within each eye, eye
    openness, and head position (nose tip), all scale-free."""
    pts = np.asarray(landmarks, float)[:, :2]
    feats = []
    for iris, (a, b), (top, bottom) in ((LEFT_IRIS, LEFT_CORNERS, LEFT_LIDS), (RIGHT_IRIS, RIGHT_CORNERS, RIGHT_LIDS)):
        corner_a, corner_b = pts[a], pts[b]
        axis = corner_b - corner_a
        width = float(np.linalg.norm(axis)) + 1e-9
        along = float(np.dot(pts[iris] - corner_a, axis)) / width**2
        normal = np.array([-axis[1], axis[0]]) / width
        across = float(np.dot(pts[iris] - (corner_a + corner_b) / 2, normal)) / width
        openness = float(np.linalg.norm(pts[top] - pts[bottom])) / width
        feats += [along, across, openness]
    feats += [float(pts[NOSE_TIP, 0]), float(pts[NOSE_TIP, 1])]
    return np.array(feats)


def _design(features: np.ndarray) -> np.ndarray:
    f = np.atleast_2d(features)
    quad = np.einsum("ni,nj->nij", f, f)[:, *np.triu_indices(f.shape[1])]
    return np.hstack([np.ones((len(f), 1)), f, quad])


class WebcamCalibration:
    """Ridge regression from eye features to display_norm positions."""

    def __init__(self, alpha: float = 1e-3) -> None:
        self.alpha = alpha
        self.coef: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        self._scale: np.ndarray | None = None

    def fit(self, features: np.ndarray, targets_norm: np.ndarray) -> WebcamCalibration:
        features = np.asarray(features, float)
        targets = np.asarray(targets_norm, float)
        if len(features) < 9 or len(features) != len(targets):
            raise InputError(
                f"webcam calibration: expected >= 9 samples with a target each, got {len(features)} features "
                f"and {len(targets)} targets; look at every calibration dot until it moves on"
            )
        self._mean = features.mean(0)
        self._scale = features.std(0) + 1e-9
        x = _design((features - self._mean) / self._scale)
        reg = self.alpha * np.eye(x.shape[1])
        reg[0, 0] = 0
        self.coef = np.linalg.solve(x.T @ x + reg, x.T @ targets)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self.coef is None or self._mean is None or self._scale is None:
            raise InputError("webcam calibration: not calibrated yet; run the calibration first")
        return _design((np.asarray(features, float) - self._mean) / self._scale) @ self.coef


class WebcamSource(GazeSource):
    """Camera frames -> MediaPipe landmarks -> calibrated display_norm gaze, on a thread."""

    name = "webcam"
    frame = "display_norm"

    def __init__(
        self,
        *,
        camera: int = 0,
        calibration: WebcamCalibration | None = None,
        landmarker: Callable[[np.ndarray], np.ndarray | None] | None = None,
        capture: Any = None,
        record: bool = True,
    ) -> None:
        super().__init__(record=record)
        self.camera = camera
        self.calibration = calibration
        self._landmarker = landmarker
        self._capture = capture
        self._thread: threading.Thread | None = None
        self.last_features: np.ndarray | None = None

    def _make_landmarker(self) -> Callable[[np.ndarray], np.ndarray | None]:
        try:
            import mediapipe as mp
        except ImportError as error:
            raise MissingDependencyError("mediapipe", "webcam", "the webcam gaze source") from error
        mesh = mp.solutions.face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True)

        def landmarks(frame_rgb: np.ndarray) -> np.ndarray | None:
            result = mesh.process(frame_rgb)
            if not result.multi_face_landmarks:
                return None
            return np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark])

        return landmarks

    def _start(self) -> None:
        import cv2

        self._landmarker = self._landmarker or self._make_landmarker()
        if self._capture is None:
            self._capture = cv2.VideoCapture(self.camera)
        if not self._capture.isOpened():
            from gazeseg.gaze.sources.base import SourceError

            raise SourceError(f"gaze source 'webcam': camera {self.camera} could not be opened (in use, or no permission?)")
        self._thread = threading.Thread(target=self._run, name="gaze-webcam", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import cv2

        while self.running:
            ok, frame = self._capture.read()
            t = time.monotonic()
            if not ok:
                self.fail("the camera stopped delivering frames")
                return
            marks = self._landmarker(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) if self._landmarker else None
            if marks is None:
                self.buffer.push(t, np.nan, np.nan, False)
                continue
            self.last_features = eye_features(marks)
            if self.calibration is None or self.calibration.coef is None:
                self.buffer.push(t, np.nan, np.nan, False)
                continue
            x, y = self.calibration.predict(self.last_features)[0]
            self.buffer.push(t, float(x), float(y), True)

    def _stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._capture is not None and hasattr(self._capture, "release"):
            self._capture.release()
