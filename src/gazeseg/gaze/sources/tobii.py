"""Tobii Pro SDK (``tobii_research``) source: subscribes to gaze data, as GazeSAM did.

The SDK ships wheels for Python 3.10 only, hence the optional extra; tests use a fake module
with the SDK's calls and gaze-data dictionary fields.
"""

from __future__ import annotations

import math
from typing import Any

from gazeseg.core.errors import MissingDependencyError
from gazeseg.gaze.sources.base import GazeSource, SourceError


def _eye(data: dict[str, Any], side: str) -> tuple[float, float, bool, float]:
    x, y = data.get(f"{side}_gaze_point_on_display_area", (math.nan, math.nan))
    valid = bool(data.get(f"{side}_gaze_point_validity", 0)) and math.isfinite(x) and math.isfinite(y)
    pupil = float(data.get(f"{side}_pupil_diameter", math.nan)) if data.get(f"{side}_pupil_validity", 0) else math.nan
    return float(x), float(y), valid, pupil


def combine_eyes(data: dict[str, Any]) -> tuple[float, float, bool, float]:
    """Binocular average of the valid eyes (one eye when the other is lost), pupil likewise."""
    lx, ly, lv, lp = _eye(data, "left")
    rx, ry, rv, rp = _eye(data, "right")
    eyes = [(x, y) for x, y, v in ((lx, ly, lv), (rx, ry, rv)) if v]
    pupils = [p for p in (lp, rp) if math.isfinite(p)]
    pupil = sum(pupils) / len(pupils) if pupils else math.nan
    if not eyes:
        return math.nan, math.nan, False, pupil
    return sum(e[0] for e in eyes) / len(eyes), sum(e[1] for e in eyes) / len(eyes), True, pupil


class TobiiSource(GazeSource):
    name = "tobii"
    frame = "display_norm"

    def __init__(self, *, address: str | None = None, record: bool = True, sdk: Any = None) -> None:
        super().__init__(record=record)
        self.address = address
        self._sdk = sdk
        self._tracker: Any = None

    def _load_sdk(self) -> Any:
        if self._sdk is not None:
            return self._sdk
        try:
            import tobii_research
        except ImportError as error:
            raise MissingDependencyError("tobii_research", "tobii", "the Tobii gaze source (Python 3.10 wheels only)") from error
        return tobii_research

    def _start(self) -> None:
        sdk = self._sdk = self._load_sdk()
        trackers = [sdk.EyeTracker(self.address)] if self.address else list(sdk.find_all_eyetrackers())
        if not trackers:
            raise SourceError("gaze source 'tobii': no Tobii eye tracker found; is it connected and powered?")
        self._tracker = trackers[0]
        self._tracker.subscribe_to(sdk.EYETRACKER_GAZE_DATA, self._on_gaze, as_dictionary=True)
        if hasattr(sdk, "EYETRACKER_NOTIFICATION_CONNECTION_LOST"):
            self._tracker.subscribe_to(sdk.EYETRACKER_NOTIFICATION_CONNECTION_LOST, self._on_lost, as_dictionary=True)

    def _on_gaze(self, data: dict[str, Any]) -> None:
        x, y, valid, pupil = combine_eyes(data)
        self.buffer.push(data["system_time_stamp"] * 1e-6, x, y, valid, pupil)

    def _on_lost(self, _data: dict[str, Any]) -> None:
        self.fail("connection to the Tobii tracker lost")

    def _stop(self) -> None:
        if self._tracker is not None:
            self._tracker.unsubscribe_from(self._sdk.EYETRACKER_GAZE_DATA, self._on_gaze)
