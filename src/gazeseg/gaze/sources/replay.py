"""Replays a recording in real time (or faster): the stand-in for a tracker in demos and benchmarks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gazeseg.core.types import GazeSamples
from gazeseg.gaze.sources.base import GazeSource


class ReplaySource(GazeSource):
    name = "replay"

    def __init__(self, samples: GazeSamples | str | Path, *, speed: float = 1.0, loop: bool = False, record: bool = True) -> None:
        if not isinstance(samples, GazeSamples):
            from gazeseg.gaze.recording import load_recording

            samples = load_recording(samples)
        self.samples = samples
        self.frame = samples.frame
        super().__init__(record=record)
        self.speed = speed
        self.loop = loop
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gaze-replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        s = self.samples
        if len(s) == 0:
            self.fail("the recording has no samples")
            return
        while True:
            t0, wall0 = float(s.t_s[0]), time.monotonic()
            for i in range(len(s)):
                if not self.running and i > 0:
                    return
                delay = (float(s.t_s[i]) - t0) / self.speed - (time.monotonic() - wall0)
                if delay > 0:
                    time.sleep(delay)
                self.buffer.push(float(s.t_s[i]), float(s.xy[i, 0]), float(s.xy[i, 1]), bool(s.valid[i]))
            if not self.loop:
                self.fail("end of recording")
                return

    def _stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)
