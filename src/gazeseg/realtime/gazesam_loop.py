"""GazeSAM's real-time loop, kept faithful as the baseline (Wang et al. 2024, GazeSAM).

GazeSAM's demo polls the tracker every 10 ms, takes the latest raw gaze sample, and calls SAM's
``predict`` with it as one positive point, upsampling masks to full resolution and recomputing
even when the gaze has not moved; there is no fixation filtering. This module does exactly that,
so the benchmark compares our loop against it on the same engine, image and gaze.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples, MaskPrediction
from gazeseg.engines.base import Embedding, Engine
from gazeseg.realtime.latency import StageTimer

GAZESAM_PERIOD_S = 0.010


@dataclass(frozen=True)
class LoopResult:
    """One finished predict: when its sample was taken and when its mask was ready (perf_counter s)."""

    sample_t_s: float
    xy: tuple[float, float]
    t_start_s: float
    t_ready_s: float
    mask: np.ndarray


@dataclass
class LoopStats:
    ticks: int = 0
    predicts: int = 0
    no_sample: int = 0
    overruns: int = 0


class GazeSamLoop:
    """Every ``period_s``: latest raw sample -> ``engine.predict`` (one positive point, full masks).

    ``push_gaze`` stores the newest valid image-px sample; ``tick()`` runs one iteration (tests,
    replays); ``start()``/``stop()`` run it on a thread at the fixed period, as GazeSAM's demo does.
    ``on_mask`` receives every ``LoopResult`` (on the loop's thread).
    """

    def __init__(
        self,
        engine: Engine,
        embedding: Embedding,
        *,
        period_s: float = GAZESAM_PERIOD_S,
        on_mask: Callable[[LoopResult], None] | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        if not period_s > 0:
            raise InputError(f"period_s: expected a positive loop period in seconds, got {period_s!r}")
        self.engine = engine
        self.embedding = embedding
        self.period_s = float(period_s)
        self.on_mask = on_mask
        self.timer = timer if timer is not None else StageTimer()
        self.stats = LoopStats()
        self._latest: tuple[float, float, float] | None = None  # t_s, x, y
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        from gazeseg.prompts import create_strategy

        self._strategy = create_strategy("gazesam-point")

    def push_gaze(self, samples: GazeSamples) -> None:
        """Remember the newest valid sample (image px); everything else is ignored, as in GazeSAM."""
        if samples.frame != "image_px":
            raise InputError(
                f"gaze frame: expected 'image_px', got '{samples.frame}'; convert with gazeseg.gaze.transforms.to_image_px"
            )
        ok = np.flatnonzero(np.asarray(samples.valid, bool) & np.all(np.isfinite(samples.xy), axis=1))
        if len(ok):
            i = ok[-1]
            with self._lock:
                self._latest = (float(samples.t_s[i]), float(samples.xy[i, 0]), float(samples.xy[i, 1]))

    def tick(self) -> LoopResult | None:
        """One loop iteration: predict on the latest sample even if it did not change."""
        self.stats.ticks += 1
        with self._lock:
            latest = self._latest
        if latest is None:
            self.stats.no_sample += 1
            return None
        t_s, x, y = latest
        one = GazeSamples(np.array([t_s]), np.array([[x, y]]), np.array([True]), frame="image_px")
        prompts = self._strategy.build(one, px_per_deg=1.0, image_hw=self.embedding.image_hw)
        if prompts is None:  # the sample fell far off the image
            self.stats.no_sample += 1
            return None
        start = time.perf_counter()
        prediction: MaskPrediction = self.engine.predict(self.embedding, prompts, multimask=True)
        mask = prediction.best_mask
        ready = time.perf_counter()
        self.timer.record("decode", (ready - start) * 1e3)
        self.stats.predicts += 1
        result = LoopResult(t_s, (float(prompts.points_xy[0, 0]), float(prompts.points_xy[0, 1])), start, ready, mask)
        if self.on_mask is not None:
            self.on_mask(result)
        return result

    def start(self) -> None:
        """Run ``tick`` every ``period_s`` on a thread; an overrunning predict starts the next at once."""
        if self._thread is not None:
            raise InputError("GazeSamLoop.start: already running; call stop() first")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gazesam-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        next_t = time.perf_counter()
        while not self._stop.is_set():
            self.tick()
            next_t += self.period_s
            delay = next_t - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            else:
                self.stats.overruns += 1
                next_t = time.perf_counter()
