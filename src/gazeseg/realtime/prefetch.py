"""Background embedding: the next images (or neighbouring slices) embedded before they are opened.

Why: a ViT-B encoder takes seconds per image on a laptop CPU; done ahead of time on a worker
thread into the ``EmbeddingCache`` (memory and disk), opening the next image costs a cache hit
and the first mask follows the first fixation within the decode budget.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.engines.base import Embedding, Engine
from gazeseg.engines.cache import EmbeddingCache

ImageSource = np.ndarray | Callable[[], np.ndarray]
"""An image, or a function that loads it (so queued images are read from disk only when embedded)."""


@dataclass(frozen=True)
class PrefetchProgress:
    """Reported after each image: how many of those queued so far are done, and the last one's cost."""

    image_id: str
    done: int
    total: int
    seconds: float
    from_cache: bool
    error: str | None = None


class Prefetcher:
    """One worker thread that embeds queued images into ``cache``, in queue order.

    ``progress`` is called on the worker thread after each image. ``wait(image_id)`` returns the
    embedding of a queued or finished image (blocking until it is done), or None if it was never
    queued, so ``LiveSegmenter.set_image`` never embeds an image twice.
    """

    def __init__(
        self,
        engine: Engine,
        cache: EmbeddingCache,
        *,
        progress: Callable[[PrefetchProgress], None] | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.progress = progress
        self._queue: queue.Queue[tuple[str, ImageSource, Future[Embedding]] | None] = queue.Queue()
        self._futures: dict[str, Future[Embedding]] = {}
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0
        self._worker = threading.Thread(target=self._run, name="gazeseg-prefetch", daemon=True)
        self._worker.start()

    def submit(self, image_id: str, image: ImageSource) -> Future[Embedding]:
        """Queue one image (array or loader); an id already queued is not queued again."""
        if not (isinstance(image, np.ndarray) or callable(image)):
            raise InputError(f"prefetch image '{image_id}': expected an array or a loader function, got {type(image).__name__}")
        with self._lock:
            if image_id in self._futures:
                return self._futures[image_id]
            future: Future[Embedding] = Future()
            self._futures[image_id] = future
            self._total += 1
        self._queue.put((image_id, image, future))
        return future

    def submit_many(self, items: list[tuple[str, ImageSource]]) -> list[Future[Embedding]]:
        """Queue images in order, e.g. the next images of a data set or the slices around the current one."""
        return [self.submit(image_id, image) for image_id, image in items]

    def wait(self, image_id: str, *, image: np.ndarray | None = None, timeout_s: float | None = None) -> Embedding | None:
        """The embedding of a queued image once it is done, or None if ``image_id`` was never queued."""
        with self._lock:
            future = self._futures.get(image_id)
        if future is None:
            return None
        return future.result(timeout=timeout_s)

    def pending(self) -> int:
        with self._lock:
            return self._total - self._done

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is embedded; False on timeout."""
        deadline = None if timeout_s is None else time.perf_counter() + timeout_s
        while self.pending() > 0:
            if deadline is not None and time.perf_counter() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=10)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        from gazeseg.engines.base import image_digest

        while True:
            item = self._queue.get()
            if item is None:
                return
            image_id, source, future = item
            start = time.perf_counter()
            error = None
            from_cache = False
            try:
                image = source() if callable(source) else source
                from_cache = (self.engine.model_id, image_digest(image)) in self.cache
                future.set_result(self.cache.get_or_embed(self.engine, image))
            except Exception as exc:  # noqa: BLE001 - reported through the future and progress
                error = f"{type(exc).__name__}: {exc}"
                future.set_exception(exc)
            with self._lock:
                self._done += 1
                done, total = self._done, self._total
            if self.progress is not None:
                self.progress(PrefetchProgress(image_id, done, total, time.perf_counter() - start, from_cache, error))
