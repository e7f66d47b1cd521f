"""The live loop: gaze samples in, the newest mask preview out, a full-resolution mask on accept.

Why it is shaped like this (issue 8):
- ``push_gaze`` only detects fixations and builds prompts (microseconds per sample), so a 1200 Hz
  tracker never backs up; decoding runs on one worker thread.
- The worker has a single-slot mailbox: a newer prompt replaces one not yet decoded, so a burst
  of prompts decodes only the newest; a prompt equal to the last one (``PromptSet.cache_key``)
  is not decoded again.
- Previews come from the engine's 256x256 low-resolution logits, upsampled only to the preview
  size (``preview_long_side``); the full-resolution mask is computed once, on ``accept``.
- A fixation becomes a prompt at its *onset*, when the detector has seen ``min_dwell_s`` of dwell
  (unlike GazeSAM, which decodes the latest raw sample every 10 ms; see ``gazesam_loop``).
- An image that the engine would shrink by more than ``tile_factor`` (a 4288x2848 fundus photo)
  is segmented on a ``tile_size`` crop around the newest fixation at native resolution
  (``tiles.crop_around``, snapped so nearby looks reuse one crop and its cached embedding); the
  crop's mask is pasted back into the full-image preview and the accepted mask.

Engines may offer ``predict_logits(embedding, prompts, *, multimask, preview) -> (scores, logits)``
to skip the full-resolution upsampling for previews (and, with ``preview=True``, to decode them
with an int8 graph when one was exported); otherwise ``predict`` is used and its low-resolution
logits are taken. ``accept`` always decodes through ``predict``, the exact path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry
from gazeseg.core.types import GazeSamples, PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.engines.cache import EmbeddingCache
from gazeseg.realtime.latency import StageTimer
from gazeseg.realtime.tiles import Crop, crop_around, crop_image, needs_tiling

_log = logging.getLogger(__name__)

DEFAULT_PX_PER_DEG = ViewingGeometry().px_per_deg
"""Screen px per degree of the default laptop geometry; pass the image px per degree of your viewport."""


@dataclass(frozen=True)
class Preview:
    """One decoded preview.

    mask: (h, w) bool at preview size (long side ``preview_long_side``); ``scale`` = preview px
    per image px; prompts in image px; timings_ms per stage of this revision; ``t_trigger_s`` is
    the ``time.perf_counter()`` when the prompt was formed (fixation onset detected, click) and
    ``t_ready_s`` when the preview was ready: their difference is the latency before delivery.
    """

    revision: int
    image_id: str
    mask: np.ndarray
    scale: float
    prompts: PromptSet
    score: float
    index: int
    timings_ms: dict[str, float]
    t_trigger_s: float
    t_ready_s: float
    crop: Crop | None = None
    """The window the engine segmented (large images), None when it saw the whole image."""

    @property
    def latency_ms(self) -> float:
        return (self.t_ready_s - self.t_trigger_s) * 1e3


@dataclass
class _Job:
    revision: int
    prompts: PromptSet
    key: tuple
    t_trigger_s: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    generation: int = 0


@dataclass
class LiveStats:
    """Counts that show the loop's semantics (tests and the benchmark read them)."""

    samples: int = 0
    fixations: int = 0
    submitted: int = 0
    unchanged: int = 0
    dropped_stale: int = 0
    decoded: int = 0
    errors: int = 0


def preview_shape(image_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    h, w = image_hw
    s = min(1.0, long_side / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def logits_to_preview(logits: np.ndarray, image_hw: tuple[int, int], preview_hw: tuple[int, int]) -> np.ndarray:
    """(256, 256) SAM-convention logits (long side resized to 256, padded bottom/right) -> (h, w) bool."""
    import cv2

    h, w = image_hw
    side = logits.shape[-1]
    scale = side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    crop = np.ascontiguousarray(np.asarray(logits, np.float32)[:nh, :nw])
    return cv2.resize(crop, (preview_hw[1], preview_hw[0]), interpolation=cv2.INTER_LINEAR) > 0


class LiveSegmenter:
    """Gaze -> prompts -> newest mask preview, for one user on one image at a time.

    engine: any ``Engine``; cache: where embeddings come from (memory-only if None); strategy:
    ``"fixation"`` (online fixation onsets, ours) or any registered strategy name, whose
    ``build`` then runs over the last ``window_s`` of gaze on every push; px_per_deg: image px
    per degree at the current zoom (``Viewport.image_px_per_deg``); prefetch: a ``Prefetcher``
    whose pending embedding ``set_image`` awaits instead of computing it twice; on_preview: called
    on the worker thread with each new ``Preview`` (e.g. to push it over a websocket).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        cache: EmbeddingCache | None = None,
        strategy: str = "fixation",
        px_per_deg: float = DEFAULT_PX_PER_DEG,
        prefetch: object | None = None,
        preview_long_side: int = 256,
        dispersion_deg: float = 1.0,
        min_dwell_s: float = 0.1,
        merge_deg: float = 1.5,
        max_points: int = 6,
        window_s: float = 2.0,
        timer: StageTimer | None = None,
        on_preview: Callable[[Preview], None] | None = None,
        tile_size: int = 1024,
        tile_factor: float = 2.0,
    ) -> None:
        if not (px_per_deg > 0 and np.isfinite(px_per_deg)):
            raise InputError(f"px_per_deg: expected a positive number of image pixels per degree, got {px_per_deg!r}")
        if preview_long_side < 16:
            raise InputError(f"preview_long_side: expected at least 16 pixels, got {preview_long_side}")
        self.engine = engine
        self.cache = cache if cache is not None else EmbeddingCache(max_bytes=1 << 30)
        self.prefetch = prefetch
        self.px_per_deg = float(px_per_deg)
        self.preview_long_side = int(preview_long_side)
        self.dispersion_deg = float(dispersion_deg)
        self.min_dwell_s = float(min_dwell_s)
        self.merge_px = float(merge_deg) * self.px_per_deg
        self.max_points = int(max_points)
        self.window_s = float(window_s)
        self.timer = timer if timer is not None else StageTimer()
        self.on_preview = on_preview
        if tile_size < 64 or not tile_factor >= 1.0:
            raise InputError(f"tiling: expected tile_size >= 64 px and tile_factor >= 1, got {tile_size} and {tile_factor}")
        self.tile_size = int(tile_size)
        self.tile_factor = float(tile_factor)
        self.strategy_name = strategy
        self._strategy = None
        if strategy != "fixation":
            from gazeseg.prompts import create_strategy

            self._strategy = create_strategy(strategy)
        self.stats = LiveStats()
        self.last_error: Exception | None = None
        self.triggers: deque[tuple[int, float]] = deque(maxlen=10_000)
        """(revision, perf_counter s) of every submitted prompt, decoded or dropped: latency from onset."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._decode_lock = threading.Lock()  # one decode at a time (accept vs worker)
        self._mailbox: _Job | None = None
        self._latest: Preview | None = None
        self._polled_revision = -1
        self._revision = 0
        self._last_key: tuple | None = None
        self._decoded_key: tuple | None = None
        self._closed = False
        self._busy = False
        self.image_id: str | None = None
        self.image_hw: tuple[int, int] | None = None
        self.embedding: Embedding | None = None
        """The current image's embedding, or the current crop's for a tiled image (None until the first look)."""
        self._tiled_image: np.ndarray | None = None
        self._crop: Crop | None = None
        self._reset_prompt_state()
        self._worker = threading.Thread(target=self._run, name="gazeseg-live-decoder", daemon=True)
        self._worker.start()

    # -- image --------------------------------------------------------------------------
    def set_image(self, image_id: str, image: np.ndarray) -> None:
        """Make ``image`` current: its embedding from the cache, a pending prefetch, or computed now.

        A large image (see ``tile_factor``) is not embedded whole: crops are, around the gaze.
        """
        start = time.perf_counter()
        embedding = None
        tiled = needs_tiling(image.shape[:2], engine_side=self.tile_size, factor=self.tile_factor)
        if not tiled:
            if self.prefetch is not None and hasattr(self.prefetch, "wait"):
                embedding = self.prefetch.wait(image_id, image=image)
            if embedding is None:
                embedding = self.cache.get_or_embed(self.engine, image)
            with self._decode_lock:  # per-image decoder work now, not on the first fixation
                self.engine.prepare(embedding)
            self.timer.record("embed", (time.perf_counter() - start) * 1e3)
        with self._lock:
            self.image_id = image_id
            self.image_hw = (int(image.shape[0]), int(image.shape[1]))
            self._tiled_image = image if tiled else None
            self._crop = None
            self.embedding = embedding
            self._mailbox = None
            self._latest = None
            self._last_key = None
            self._decoded_key = None
            self._reset_prompt_state()

    def set_px_per_deg(self, px_per_deg: float) -> None:
        """The viewport zoomed: thresholds in degrees map to a new number of image pixels."""
        if not (px_per_deg > 0 and np.isfinite(px_per_deg)):
            raise InputError(f"px_per_deg: expected a positive number, got {px_per_deg!r}")
        with self._lock:
            self.merge_px = self.merge_px / self.px_per_deg * float(px_per_deg)
            self.px_per_deg = float(px_per_deg)
            if self._strategy is None:
                self._detector = self._make_detector()
                self._open_prompted = False

    # -- input --------------------------------------------------------------------------
    def push_gaze(self, samples: GazeSamples) -> None:
        """Feed raw samples in the ``image_px`` frame; cheap, never waits for a decode."""
        t0 = time.perf_counter()
        if samples.frame != "image_px":
            raise InputError(
                f"gaze frame: expected 'image_px', got '{samples.frame}'; convert with gazeseg.gaze.transforms.to_image_px"
            )
        if self.image_hw is None:
            raise InputError("push_gaze: no image set; call set_image(image_id, image) first")
        if len(samples) == 0:
            return
        t1 = time.perf_counter()
        with self._lock:
            self.stats.samples += len(samples)
            if self._strategy is not None:
                self._push_generic(samples, t0, t1)
            else:
                self._push_fixation(samples, t0, t1)

    def add_click(self, xy: tuple[float, float], positive: bool) -> None:
        """An explicit correction (image px), kept until ``reset``; decoded like a new fixation.
        A negative one also removes the fixation places within ``merge_deg`` of it."""
        x, y = float(xy[0]), float(xy[1])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise InputError(f"click: expected finite (x, y) image pixels, got {xy!r}")
        t0 = time.perf_counter()
        with self._lock:
            if self.image_hw is None:
                raise InputError("add_click: no image set; call set_image(image_id, image) first")
            h, w = self.image_hw
            if not (0 <= x <= w and 0 <= y <= h):
                raise InputError(f"click: ({x:.1f}, {y:.1f}) lies outside the {w}x{h} image; give image pixels")
            self._clicks.append((x, y, 1 if positive else 0))
            if not positive:  # to reject a place the user looks at it, and that fixation became a positive point: drop it
                self._targets = [tg for tg in self._targets if np.hypot(tg[0] - x, tg[1] - y) > self.merge_px]
            self._submit_current(t0, {})

    def reset(self) -> None:
        """Forget fixations, clicks and previews of the current image (the embedding stays)."""
        with self._lock:
            self._mailbox = None
            self._latest = None
            self._last_key = None
            self._decoded_key = None
            self._reset_prompt_state()

    # -- output -------------------------------------------------------------------------
    def poll(self) -> Preview | None:
        """The newest preview if it is newer than the one last polled, else None."""
        with self._lock:
            latest = self._latest
            if latest is None or latest.revision <= self._polled_revision:
                return None
            self._polled_revision = latest.revision
            return latest

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until the mailbox is empty and no decode runs (tests, replays); False on timeout."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with self._lock:
                idle = self._mailbox is None and not self._busy
            if idle:
                return True
            time.sleep(0.001)
        return False

    def encode(self, preview: Preview, fmt: str = "png") -> bytes | dict[str, object]:
        """The preview mask for the browser, ``png`` (bytes) or ``rle`` (dict), timed as the ``encode`` stage."""
        from gazeseg.realtime.encode import mask_to_png, mask_to_rle

        if fmt not in ("png", "rle"):
            raise InputError(f"fmt: expected 'png' or 'rle', got {fmt!r}")
        with self.timer.stage("encode"):
            return mask_to_png(preview.mask) if fmt == "png" else mask_to_rle(preview.mask)

    def record_delivery(self, preview: Preview, shown_s: float | None = None) -> float:
        """The surface reports that ``preview`` is on screen (``time.perf_counter()``, default now).

        Records the ``delivery`` stage (ready -> shown) and ``total`` (prompt formed -> shown), in ms;
        returns the total.
        """
        shown = time.perf_counter() if shown_s is None else float(shown_s)
        self.timer.record("delivery", (shown - preview.t_ready_s) * 1e3)
        total = (shown - preview.t_trigger_s) * 1e3
        self.timer.record("total", total)
        return total

    def looked_places(self) -> np.ndarray:
        """(N, 2) image px: the places looked at long enough to prompt, oldest first."""
        with self._lock:
            return np.array([(x, y) for x, y, _ in self._targets], float).reshape(-1, 2)

    def current_prompts(self) -> PromptSet | None:
        with self._lock:
            return self._prompts_locked()

    def accept(self) -> np.ndarray:
        """Full-resolution (H, W) bool mask of the current prompts (the candidate the preview showed)."""
        with self._lock:
            prompts = self._prompts_locked()
            latest = self._latest
            image_hw = self.image_hw
        if image_hw is None or prompts is None:
            raise InputError("accept: no prompts yet; look at the object (or click) before accepting")
        with self._decode_lock, self.timer.stage("accept"):
            embedding, crop = self._embedding_for(prompts)
            local = crop.prompts_to_crop(prompts) if crop is not None else prompts
            multimask = len(local.points_xy) == 1 and local.box_xyxy is None
            prediction = self.engine.predict(embedding, local, multimask=multimask)
        masks = prediction.masks if crop is None else np.stack([crop.paste(m, image_hw) for m in prediction.masks])
        if latest is not None and latest.prompts.cache_key() == prompts.cache_key() and latest.index < len(masks):
            return masks[latest.index]
        return masks[self._choose(masks, prompts)]

    def close(self) -> None:
        """Stop the worker thread."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._worker.join(timeout=5)

    def __enter__(self) -> LiveSegmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- prompt state (caller holds the lock) --------------------------------------------
    def _make_detector(self):  # type: ignore[no-untyped-def]
        from gazeseg.gaze.fixations import OnlineIDT

        return OnlineIDT(px_per_deg=self.px_per_deg, dispersion_deg=self.dispersion_deg,
                         min_duration_s=self.min_dwell_s, frame="image_px")

    def _reset_prompt_state(self) -> None:
        self._detector = self._make_detector() if self._strategy is None else None
        self._targets: list[list[float]] = []  # [x, y, dwell_s] merged fixation places
        self._open_prompted = False  # the fixation in progress has already given its point
        self._clicks: list[tuple[float, float, int]] = []
        self._buffer: list[GazeSamples] = []
        self._generic_prompts: PromptSet | None = None
        self._generation = getattr(self, "_generation", 0) + 1  # in-flight decodes of older generations are dropped

    def _clip(self, x: float, y: float) -> tuple[float, float] | None:
        h, w = self.image_hw  # type: ignore[misc]
        if not (-0.1 * w <= x <= 1.1 * w and -0.1 * h <= y <= 1.1 * h):
            return None  # looked off the image
        return float(np.clip(x, 0.5, w - 1.5)), float(np.clip(y, 0.5, h - 1.5))

    def _add_target(self, x: float, y: float, dwell_s: float) -> bool:
        """Merge into a nearby place or append; True if the prompt points changed. A place the
        user rejected (a negative click near it) gives no positive point, however long they look."""
        if any(label == 0 and np.hypot(cx - x, cy - y) <= self.merge_px for cx, cy, label in self._clicks):
            return False
        for target in self._targets:
            if np.hypot(target[0] - x, target[1] - y) <= self.merge_px:
                target[2] += dwell_s
                return False  # same place again: the prompt (and mask) stays
        self._targets.append([x, y, dwell_s])
        del self._targets[: max(0, len(self._targets) - self.max_points)]
        return True

    def _push_fixation(self, samples: GazeSamples, t0: float, t1: float) -> None:
        detector = self._detector
        changed = False
        t_trigger = None
        for t, (x, y), ok in zip(samples.t_s.tolist(), samples.xy.tolist(), samples.valid.tolist()):
            if detector.push_one(t, x, y, ok) is not None:
                self.stats.fixations += 1
                self._open_prompted = False
            if self._open_prompted:
                continue  # the open fixation already gave its point: nothing to do per sample
            current = detector.current  # None until min_dwell_s of dwell: the onset
            if current is not None:
                self._open_prompted = True
                point = self._clip(current.x, current.y)
                if point is not None and self._add_target(point[0], point[1], current.duration_s):
                    changed = True
                    t_trigger = time.perf_counter()
        t2 = time.perf_counter()
        timings = {"gaze": (t1 - t0) * 1e3, "fixation": (t2 - t1) * 1e3}
        self.timer.record("gaze", timings["gaze"])
        self.timer.record("fixation", timings["fixation"])
        if changed:
            self._submit_current(t_trigger or t2, timings)

    def _push_generic(self, samples: GazeSamples, t0: float, t1: float) -> None:
        self._buffer.append(samples)
        gaze = GazeSamples.concat(self._buffer)
        keep = gaze.t_s >= gaze.t_s[-1] - self.window_s
        gaze = gaze.select(keep)
        self._buffer = [gaze]
        t2 = time.perf_counter()
        built = self._strategy.build(gaze, px_per_deg=self.px_per_deg, image_hw=self.image_hw)  # type: ignore[union-attr]
        timings = {"gaze": (t1 - t0) * 1e3, "fixation": (t2 - t1) * 1e3}
        self.timer.record("gaze", timings["gaze"])
        self.timer.record("fixation", timings["fixation"])
        self._generic_prompts = built
        if built is not None:
            self._submit_current(t2, timings)

    def _prompts_locked(self) -> PromptSet | None:
        if self._strategy is not None:
            built = self._generic_prompts
            pts = [] if built is None else [*map(tuple, built.points_xy)]
            labels = [] if built is None else list(built.labels)
        else:
            pts = [(x, y) for x, y, _ in self._targets]
            labels = [1] * len(pts)
        pts += [(x, y) for x, y, _ in self._clicks]
        labels += [lab for _, _, lab in self._clicks]
        if not pts:
            return None
        return PromptSet(np.array(pts, float), np.array(labels, int))

    def _submit_current(self, t_trigger: float, timings: dict[str, float]) -> None:
        start = time.perf_counter()
        prompts = self._prompts_locked()
        if prompts is None:
            return
        key = prompts.cache_key()
        if key == self._last_key:
            self.stats.unchanged += 1
            return
        self._last_key = key
        self._revision += 1
        if self._mailbox is not None:
            self.stats.dropped_stale += 1
        prompt_ms = (time.perf_counter() - start) * 1e3
        self.timer.record("prompt", prompt_ms)
        self._mailbox = _Job(self._revision, prompts, key, t_trigger, {**timings, "prompt": prompt_ms}, self._generation)
        self.stats.submitted += 1
        self.triggers.append((self._revision, t_trigger))
        self._wake.notify()

    # -- worker -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while self._mailbox is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job, self._mailbox = self._mailbox, None
                image_id = self.image_id
                if job.key == self._decoded_key:
                    self.stats.unchanged += 1
                    continue
                self._busy = True
            try:
                preview = self._decode(job, image_id or "")
            except Exception as error:  # noqa: BLE001 - a bad decode must not kill the live loop
                _log.warning("live decode failed: %s: %s", type(error).__name__, error, exc_info=True)
                with self._lock:
                    self.last_error = error
                    self.stats.errors += 1
                    self._busy = False
                continue
            with self._lock:
                self._busy = False
                if job.generation != self._generation:
                    continue  # the image changed (or reset) while decoding: drop
                self._decoded_key = job.key
                self._latest = preview
                self.stats.decoded += 1
            if self.on_preview is not None:
                self.on_preview(preview)

    def _embedding_for(self, prompts: PromptSet) -> tuple[Embedding, Crop | None]:
        """The embedding to decode ``prompts`` on: the image's, or for a tiled image the crop
        around the newest positive point (kept while that point stays in its inner part)."""
        with self._lock:
            image, crop, embedding = self._tiled_image, self._crop, self.embedding
        if image is None:
            if embedding is None:
                raise InputError("decode: no image set; call set_image(image_id, image) first")
            return embedding, None
        positives = prompts.points_xy[prompts.labels == 1]
        anchor = positives[-1] if len(positives) else prompts.points_xy[-1]
        margin = self.tile_size / 8
        if crop is None or embedding is None or not crop.contains(anchor[None], margin_px=margin)[0]:
            crop = crop_around(image.shape[:2], (float(anchor[0]), float(anchor[1])), size=self.tile_size)
            start = time.perf_counter()
            embedding = self.cache.get_or_embed(self.engine, crop_image(image, crop))
            self.engine.prepare(embedding)
            self.timer.record("embed", (time.perf_counter() - start) * 1e3)
            with self._lock:
                if self._tiled_image is image:
                    self._crop, self.embedding = crop, embedding
        return embedding, crop

    def _decode(self, job: _Job, image_id: str) -> Preview:
        prompts = job.prompts
        with self._decode_lock:
            embedding, crop = self._embedding_for(prompts)
            local = crop.prompts_to_crop(prompts) if crop is not None else prompts
            multimask = len(local.points_xy) == 1 and local.box_xyxy is None
            t0 = time.perf_counter()
            if hasattr(self.engine, "predict_logits"):
                scores, logits = self.engine.predict_logits(embedding, local, multimask=multimask, preview=True)  # type: ignore[attr-defined]
            else:
                prediction = self.engine.predict(embedding, local, multimask=multimask)
                scores, logits = prediction.scores, prediction.low_res_logits
        t1 = time.perf_counter()
        full_hw = self.image_hw if crop is not None else embedding.image_hw
        phw = preview_shape(full_hw, self.preview_long_side)  # type: ignore[arg-type]
        scale = phw[1] / full_hw[1]  # type: ignore[index]
        if crop is None:
            masks = np.stack([logits_to_preview(lg, embedding.image_hw, phw) for lg in logits])
        else:  # the crop's previews, placed where the crop lies in the full image's preview
            r0, c0 = round(crop.y0 * scale), round(crop.x0 * scale)
            r1, c1 = min(phw[0], max(r0 + 1, round((crop.y0 + crop.height) * scale))), min(phw[1], max(c0 + 1, round((crop.x0 + crop.width) * scale)))
            masks = np.zeros((len(logits), *phw), bool)
            for k, lg in enumerate(logits):
                masks[k, r0:r1, c0:c1] = logits_to_preview(lg, embedding.image_hw, (r1 - r0, c1 - c0))
        index = self._choose(masks, prompts, scores=np.asarray(scores), scale=scale) if len(masks) > 1 else 0
        t2 = time.perf_counter()
        timings = {**job.timings_ms, "decode": (t1 - t0) * 1e3, "postprocess": (t2 - t1) * 1e3}
        self.timer.record("decode", timings["decode"])
        self.timer.record("postprocess", timings["postprocess"])
        return Preview(job.revision, image_id, masks[index], scale, prompts, float(np.asarray(scores)[index]),
                       index, timings, job.t_trigger_s, time.perf_counter(), crop)

    def _choose(self, masks: np.ndarray, prompts: PromptSet, *, scores: np.ndarray | None = None, scale: float = 1.0) -> int:
        """The candidate that best explains where the gaze fell, times the engine's own score.

        People land near the centre of the object they look at (preferred viewing location,
        Nuthmann & Henderson 2010): a candidate whose centroid is far from the fixation, relative
        to its radius plus the tracker's error (0.5 deg), is unlikely to be the object looked at.
        """
        if scores is None:
            scores = np.ones(len(masks))
        pos = prompts.points_xy[prompts.labels == 1] * scale
        if len(pos) == 0:
            return int(np.argmax(scores))
        sigma = 0.5 * self.px_per_deg * scale
        values = []
        for mask, score in zip(masks, scores):
            rows, cols = np.nonzero(mask)
            if len(rows) == 0:
                values.append(0.0)
                continue
            cy, cx = rows.mean(), cols.mean()
            var = (0.3 * np.sqrt(len(rows) / np.pi)) ** 2 + sigma**2
            explain = 0.0
            for x, y in pos:
                d2 = (cx - x) ** 2 + (cy - y) ** 2
                r, c = min(int(y), mask.shape[0] - 1), min(int(x), mask.shape[1] - 1)
                if mask[r, c]:
                    d2 = min(d2, var)  # anywhere inside a large object is a plausible landing
                explain += np.exp(-0.5 * d2 / var) / len(pos)
            values.append(explain * max(float(score), 1e-3))
        return int(np.argmax(values))
