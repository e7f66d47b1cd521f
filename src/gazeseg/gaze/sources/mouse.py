"""The mouse (or any pointer) as gaze: the dummy mode of Titta and PsychoPy, for a first try."""

from __future__ import annotations

import time

import numpy as np

from gazeseg.gaze.sources.base import GazeSource


class MouseSource(GazeSource):
    """Pointer positions pushed in (e.g. from the browser), optionally with tracker-like noise."""

    name = "mouse"

    def __init__(self, *, noise_norm: float = 0.0, frame: str = "display_norm", seed: int | None = None, record: bool = True) -> None:
        self.frame = frame
        super().__init__(record=record)
        self.noise_norm = noise_norm
        self._rng = np.random.default_rng(seed)

    def push(self, x: float, y: float, t: float | None = None) -> None:
        if self.noise_norm > 0:
            x, y = np.array([x, y]) + self._rng.normal(0, self.noise_norm, 2)
        self.buffer.push(time.monotonic() if t is None else t, x, y, bool(np.isfinite(x) and np.isfinite(y)))
