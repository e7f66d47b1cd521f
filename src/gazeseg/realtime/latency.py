"""Stage timing for the gaze-to-mask path, with p50/p95 summaries.

Why: a live mask feels instant only if every stage (gaze handling, fixation detection, prompt
building, decoding, post-processing, delivery) fits a budget together; timing each stage says
which one to fix. Times come from ``time.perf_counter`` and are kept in milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

STAGES = ("gaze", "fixation", "prompt", "decode", "postprocess", "encode", "delivery")
"""The stages of the live path in order; ``delivery`` is measured by the surface (the web app)."""

DEFAULT_BUDGET_MS = 25.0


@dataclass(frozen=True)
class StageSummary:
    """Distribution of one stage's durations (ms)."""

    stage: str
    count: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int | str]:
        return {"stage": self.stage, "count": self.count, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "mean_ms": self.mean_ms, "max_ms": self.max_ms}


def summarize(stage: str, values_ms: list[float] | np.ndarray) -> StageSummary:
    """p50/p95/mean/max of durations in ms (NaN when there are none)."""
    v = np.asarray(values_ms, float)
    if v.size == 0:
        nan = float("nan")
        return StageSummary(stage, 0, nan, nan, nan, nan)
    return StageSummary(stage, int(v.size), float(np.percentile(v, 50)), float(np.percentile(v, 95)),
                        float(v.mean()), float(v.max()))


class StageTimer:
    """Thread-safe collector of per-stage durations; keeps the last ``maxlen`` of each stage.

    >>> timer = StageTimer()
    >>> with timer.stage("decode"):
    ...     pass
    >>> timer.summary()["decode"].count
    1
    """

    def __init__(self, *, maxlen: int = 10_000) -> None:
        self._values: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=maxlen))
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, (time.perf_counter() - start) * 1e3)

    def record(self, name: str, duration_ms: float) -> None:
        """Add a duration measured elsewhere (e.g. ``delivery`` measured by the browser)."""
        with self._lock:
            self._values[name].append(float(duration_ms))

    def values(self, name: str) -> list[float]:
        with self._lock:
            return list(self._values.get(name, ()))

    def summary(self) -> dict[str, StageSummary]:
        """Per stage, in pipeline order first, then any other recorded names."""
        with self._lock:
            names = [s for s in STAGES if s in self._values] + sorted(set(self._values) - set(STAGES))
            return {n: summarize(n, list(self._values[n])) for n in names}

    def over_budget(self, *, budget_ms: float = DEFAULT_BUDGET_MS, stages: tuple[str, ...] | None = None) -> bool:
        """Whether the p95 sum of ``stages`` (default: all recorded) exceeds ``budget_ms``."""
        summary = self.summary()
        chosen = stages or tuple(summary)
        return sum(summary[s].p95_ms for s in chosen if s in summary and summary[s].count) > budget_ms

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
