"""The common source API: start, read blocks, stop; samples are never lost on errors."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from gazeseg.core.errors import GazesegError
from gazeseg.core.types import GazeSamples


class SourceError(GazesegError):
    """A tracker failed or disconnected; samples received before it stay readable."""


class SampleBuffer:
    """Thread-safe FIFO of samples written by a device callback thread and read by the app.

    Bounded (oldest dropped, counted) so a stalled reader cannot exhaust memory; everything is
    also appended to ``history`` when recording, which the project store saves.
    """

    def __init__(self, frame: str = "display_norm", *, capacity: int = 120_000, record: bool = True) -> None:
        self.frame = frame
        self._rows: deque[tuple] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self.dropped = 0
        self.record = record
        self.history: list[tuple] = []

    def push(self, t: float, x: float, y: float, valid: bool, pupil: float = float("nan")) -> None:
        row = (float(t), float(x), float(y), bool(valid), float(pupil))
        with self._ready:
            if len(self._rows) == self._rows.maxlen:
                self.dropped += 1
            self._rows.append(row)
            if self.record:
                self.history.append(row)
            self._ready.notify_all()

    def drain(self, timeout_s: float = 0.0) -> GazeSamples:
        with self._ready:
            if not self._rows and timeout_s > 0:
                self._ready.wait(timeout_s)
            rows = list(self._rows)
            self._rows.clear()
        return _to_samples(rows, self.frame)

    def recorded(self) -> GazeSamples:
        with self._lock:
            rows = list(self.history)
        return _to_samples(rows, self.frame)


def _to_samples(rows: list[tuple], frame: str) -> GazeSamples:
    if not rows:
        return GazeSamples.empty(frame)  # type: ignore[arg-type]
    a = np.array(rows, float)
    xy = a[:, 1:3].copy()
    valid = (a[:, 3] > 0) & np.all(np.isfinite(xy), axis=1)
    xy[~valid] = np.nan
    pupil = a[:, 4] if np.isfinite(a[:, 4]).any() else None
    return GazeSamples(t_s=a[:, 0], xy=xy, valid=valid, frame=frame, pupil_mm=pupil)  # type: ignore[arg-type]


class GazeSource:
    """Base class: subclasses connect in ``_start`` and push into ``self.buffer``.

    ``read`` returns the samples since the last read; after a failure it still returns what
    was received, then raises ``SourceError`` once the buffer is empty, so nothing is lost.
    """

    name = "source"
    frame = "display_norm"

    def __init__(self, *, record: bool = True) -> None:
        self.buffer = SampleBuffer(self.frame, record=record)
        self.error: str | None = None
        self.running = False
        self.started_at: float | None = None
        self._started = False

    def start(self) -> GazeSource:
        if not self._started:
            self.running = True  # before _start: device threads loop while this is set
            try:
                self._start()
            except BaseException:
                self.running = False
                raise
            self._started = True
            self.started_at = time.monotonic()
        return self

    def stop(self) -> None:
        """Release the device; safe after a failure and safe to call twice."""
        self.running = False
        if self._started:
            self._started = False
            self._stop()

    def fail(self, message: str) -> None:
        """Called by device threads: mark the source broken without dropping buffered samples."""
        self.error = message
        self.running = False

    def read(self, timeout_s: float = 0.0) -> GazeSamples:
        samples = self.buffer.drain(timeout_s if self.error is None else 0.0)
        if len(samples) == 0 and self.error is not None:
            raise SourceError(f"gaze source '{self.name}': {self.error}")
        return samples

    def recorded(self) -> GazeSamples:
        return self.buffer.recorded()

    def _start(self) -> None:  # pragma: no cover - overridden
        pass

    def _stop(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> GazeSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
