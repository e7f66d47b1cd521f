"""Pupil Labs real-time API source (Neon / Invisible), via ``pupil_labs.realtime_api.simple``.

Gaze comes in scene-camera pixels; a ``scene_to_display`` callable (e.g. a surface-tracking
homography from calibration) maps it to display_norm; by default positions are divided by the
scene camera size, which is only right when the screen fills the scene camera.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from gazeseg.core.errors import MissingDependencyError
from gazeseg.gaze.sources.base import GazeSource, SourceError


class PupilSource(GazeSource):
    name = "pupil"
    frame = "display_norm"

    def __init__(
        self,
        *,
        scene_size_px: tuple[int, int] = (1600, 1200),
        scene_to_display: Callable[[float, float], tuple[float, float]] | None = None,
        discover_timeout_s: float = 10.0,
        record: bool = True,
        api: Any = None,
    ) -> None:
        super().__init__(record=record)
        self.scene_size_px = scene_size_px
        self.scene_to_display = scene_to_display
        self.discover_timeout_s = discover_timeout_s
        self._api = api
        self._device: Any = None
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        api = self._api
        if api is None:
            try:
                from pupil_labs.realtime_api import simple as api
            except ImportError as error:
                raise MissingDependencyError("pupil-labs-realtime-api", "pupil", "the Pupil Labs gaze source") from error
        self._device = api.discover_one_device(max_search_duration_seconds=self.discover_timeout_s)
        if self._device is None:
            raise SourceError("gaze source 'pupil': no Pupil Labs device found on the network (is the Companion app running?)")
        self._thread = threading.Thread(target=self._run, name="gaze-pupil", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        w, h = self.scene_size_px
        while self.running:
            try:
                datum = self._device.receive_gaze_datum(timeout_seconds=1.0)
            except Exception as error:  # noqa: BLE001 - any client failure ends the stream cleanly
                self.fail(f"the Pupil Labs device stopped sending gaze ({error})")
                return
            if datum is None:
                continue
            x, y = float(datum.x), float(datum.y)
            if self.scene_to_display is not None:
                x, y = self.scene_to_display(x, y)
            else:
                x, y = x / w, y / h
            valid = bool(getattr(datum, "worn", True)) and math.isfinite(x) and math.isfinite(y)
            self.buffer.push(float(datum.timestamp_unix_seconds), x, y, valid)

    def _stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._device is not None:
            self._device.close()
