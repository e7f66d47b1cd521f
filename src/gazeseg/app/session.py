"""The annotation controller: one user, the current image or slice, the live loop, the store.

The browser only draws and sends events; everything that matters (prompts, masks, undo stack,
gaze) lives here and in the project store, so a reload or a crash loses nothing accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples
from gazeseg.engines.base import Engine
from gazeseg.engines.cache import EmbeddingCache
from gazeseg.app.catalog import Catalog
from gazeseg.store import ProjectStore


@dataclass
class Current:
    item_id: int
    slice_index: int
    window: str | None
    image_hw: tuple[int, int]
    opened_at: float


class AnnotationSession:
    def __init__(self, store: ProjectStore, engine: Engine, *, cache: EmbeddingCache | None = None, prefetch_ahead: int = 2) -> None:
        self.store = store
        self.engine = engine
        self.catalog = Catalog(store)
        if cache is None:
            from gazeseg.engines.cache import default_cache_dir

            # SAM embeddings take seconds: keep them on disk (shared with `gazeseg embed`); the
            # classic engine's are cheaper to recompute than to store.
            cache = EmbeddingCache(disk_dir=None if engine.name == "classic" else default_cache_dir())
        self.cache = cache
        self.prefetch_ahead = prefetch_ahead
        self.progress = {"done": 0, "total": 0, "last": ""}
        self.listeners: list[Callable[[dict], None]] = []
        self.prefetcher, self.live = self._workers(engine)
        self.current: Current | None = None
        self._lock = threading.RLock()
        self._fixation_log = None
        self._gaze_buffer: list[np.ndarray] = []
        self.recalibration = self._stored_recalibration()

    def _workers(self, engine: Engine, px_per_deg: float | None = None):  # noqa: ANN202
        """The prefetch worker and the live loop for ``engine`` (rebuilt when the engine changes)."""
        from gazeseg.realtime.live import LiveSegmenter
        from gazeseg.realtime.prefetch import Prefetcher

        prefetcher = Prefetcher(engine, self.cache, progress=self._on_progress)
        options = {} if px_per_deg is None else {"px_per_deg": px_per_deg}
        live = LiveSegmenter(engine, cache=self.cache, prefetch=prefetcher, on_preview=self._on_preview, **options)
        return prefetcher, live

    def set_engine(self, engine: Engine) -> None:
        """Answer prompts with ``engine`` from now on (e.g. a fine-tuned model version).

        Pending prompts of the open image are dropped (its new embedding is computed, or found in
        the cache); accepted masks are untouched.
        """
        with self._lock:
            old_prefetcher, old_live = self.prefetcher, self.live
            self.engine = engine
            self.prefetcher, self.live = self._workers(engine, old_live.px_per_deg)
            current = self.current
        old_live.close()
        old_prefetcher.close()
        self.store.log("engine", model=engine.model_id)
        if current is not None:
            self.open(current.item_id, current.slice_index, current.window)

    # -- listeners -------------------------------------------------------------------------
    def _emit(self, message: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a closed socket must not break the loop
                pass

    def _on_progress(self, p) -> None:  # noqa: ANN001
        self.progress = {"done": p.done, "total": p.total, "last": p.image_id, "error": p.error}
        self._emit({"type": "progress", **self.progress})

    def _on_preview(self, preview) -> None:  # noqa: ANN001
        import base64

        from gazeseg.realtime.encode import mask_to_png

        current = self.current
        if current is None or preview.image_id != self._image_key(current):
            return
        self._emit({
            "type": "preview",
            "revision": preview.revision,
            "png": base64.b64encode(mask_to_png(preview.mask)).decode("ascii"),
            "score": float(preview.score),
            "latency_ms": preview.latency_ms,
            "points": preview.prompts.points_xy.tolist(),
            "labels": preview.prompts.labels.tolist(),
        })

    # -- navigation ------------------------------------------------------------------------
    @staticmethod
    def _image_key(c: Current) -> str:
        return f"{c.item_id}:{c.slice_index}:{c.window or 'auto'}"

    def open(self, item_id: int, slice_index: int = 0, window: str | None = None) -> Current:
        item = self.store.item(item_id)
        if item.kind == "volume" and not 0 <= slice_index < item.depth:
            raise InputError(f"slice: expected 0..{item.depth - 1}, got {slice_index}")
        if item.kind != "volume":
            slice_index = 0
        self.flush_gaze()
        rgb = self.catalog.rgb(item_id, slice_index, window)
        with self._lock:
            self.current = Current(item_id, slice_index, window, rgb.shape[:2], time.perf_counter())
            key = self._image_key(self.current)
            from gazeseg.gaze.fixations import OnlineIDT

            self._fixation_log = OnlineIDT(px_per_deg=self.live.px_per_deg, frame="image_px")
        self.live.set_image(key, rgb)
        self.store.set_setting("current", json.dumps({"item": item_id, "slice": slice_index, "window": window}))
        self.store.log("open", item_id, slice_index, window=window)
        self._prefetch_neighbours(item_id, slice_index, window)
        return self.current

    def _prefetch_neighbours(self, item_id: int, slice_index: int, window: str | None) -> None:
        item = self.store.item(item_id)
        jobs = []
        if item.kind == "volume":
            for dz in range(1, self.prefetch_ahead + 1):
                for z in (slice_index + dz, slice_index - dz):
                    if 0 <= z < item.depth:
                        jobs.append((f"{item_id}:{z}:{window or 'auto'}", lambda z=z: self.catalog.rgb(item_id, z, window)))
        items = [i for i in self.store.items() if i.kind != "broken"]
        ids = [i.id for i in items]
        if item_id in ids:
            for other in items[ids.index(item_id) + 1 : ids.index(item_id) + 1 + self.prefetch_ahead]:
                z = other.depth // 2 if other.kind == "volume" else 0
                jobs.append((f"{other.id}:{z}:auto", lambda o=other, z=z: self.catalog.rgb(o.id, z, None)))
        self.prefetcher.submit_many(jobs)

    def restore(self) -> dict | None:
        """Where the user was before a reload or a restart."""
        raw = self.store.get_setting("current", "")
        return json.loads(raw) if raw else None

    def _require(self) -> Current:
        if self.current is None:
            raise InputError("no image is open; open one first")
        return self.current

    # -- input -----------------------------------------------------------------------------
    def push_gaze(self, t_s: np.ndarray, xy: np.ndarray, source: str = "mouse") -> None:
        """Samples in image px of the current image (the page maps screen -> image)."""
        current = self._require()
        t = np.asarray(t_s, float).reshape(-1)
        xy = np.asarray(xy, float).reshape(-1, 2)
        if len(t) != len(xy):
            raise InputError(f"gaze: expected as many timestamps as points, got {len(t)} and {len(xy)}")
        valid = np.all(np.isfinite(xy), axis=1) & np.isfinite(t)
        order_ok = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
        keep = order_ok & np.isfinite(t)
        samples = GazeSamples(t[keep], np.where(valid[keep, None], xy[keep], np.nan), valid[keep], frame="image_px")
        if len(samples) == 0:
            return
        self.live.push_gaze(samples)
        with self._lock:
            self._gaze_buffer.append(np.column_stack([samples.t_s, samples.xy, samples.valid]))
            if self._fixation_log is not None:
                done = self._fixation_log.push(samples)
                if done:
                    self.store.add_fixations(current.item_id, current.slice_index, done)
            pending = sum(len(b) for b in self._gaze_buffer)
        if pending >= 240:
            self.flush_gaze(source)

    def flush_gaze(self, source: str = "mouse") -> None:
        with self._lock:
            current, buffers, self._gaze_buffer = self.current, self._gaze_buffer, []
        if current is None or not buffers:
            return
        data = np.concatenate(buffers)
        self.store.add_gaze(current.item_id, current.slice_index, data[:, 0], data[:, 1:3], data[:, 3] > 0, source)

    def click(self, x: float, y: float, positive: bool) -> None:
        current = self._require()
        self.live.add_click((x, y), positive)
        self.store.log("click", current.item_id, current.slice_index, x=x, y=y, positive=positive)

    # -- decisions -------------------------------------------------------------------------
    def accept(self, label_id: int, *, page_px_per_image_px: float | None = None) -> int:
        """Store the mask. ``page_px_per_image_px`` (the page's zoom, sent for eye trackers, not
        for the mouse): also learn the tracker's offset from this object (``gaze_shift``)."""
        current = self._require()
        mask = self.live.accept()
        prompts = self.live.current_prompts()
        looks = self.live.looked_places()
        record = {} if prompts is None else {"points": prompts.points_xy.tolist(), "labels": prompts.labels.tolist()}
        self.flush_gaze()
        mask_id = self.store.accept_mask(current.item_id, current.slice_index, label_id, mask, prompts=record)
        if page_px_per_image_px is not None and len(looks) and mask.any():
            self._learn_offset(looks[0], mask, float(page_px_per_image_px))
        self.live.reset()
        return mask_id

    # -- implicit recalibration (gazeseg.gaze.implicit_calibration) --------------------------
    def _stored_recalibration(self):  # noqa: ANN202
        from gazeseg.core.geometry import ViewingGeometry
        from gazeseg.gaze.implicit_calibration import ImplicitRecalibration

        stored = self.store.get_setting("implicit_recalibration")
        if stored:
            try:
                return ImplicitRecalibration.from_dict(json.loads(stored))
            except (InputError, ValueError, KeyError, TypeError):
                pass  # an unreadable record only loses the learnt offset: start again
        # capped at twice a webcam's accuracy (4 deg) on a laptop screen at 60 cm
        return ImplicitRecalibration(max_shift_px=ViewingGeometry().deg_to_px(8.0))

    def _learn_offset(self, look_xy: np.ndarray, mask: np.ndarray, scale: float) -> None:
        """The first place looked at on this image, against the accepted object's centre, in page
        px. The page had already shifted that look by the current correction: undo it first."""
        from gazeseg.core.geometry import Viewport

        if not (scale > 0 and np.isfinite(scale)):
            raise InputError(f"view_scale: expected the page's positive zoom (page px per image px), got {scale!r}")
        view = Viewport(mask.shape[1], mask.shape[0], scale=scale)  # page px from the image's corner: only differences matter
        raw = view.image_to_screen(np.asarray(look_xy, float)) - self.recalibration.shift_px
        self.recalibration.observe_accepted(raw, mask, view)
        self._save_recalibration()

    def reset_recalibration(self) -> None:
        """A new explicit calibration replaces what was learnt implicitly."""
        from gazeseg.gaze.implicit_calibration import ImplicitRecalibration

        self.recalibration = ImplicitRecalibration(max_shift_px=self.recalibration.max_shift_px)
        self._save_recalibration()

    def _save_recalibration(self) -> None:
        self.store.set_setting("implicit_recalibration", json.dumps(self.recalibration.to_dict()))

    def reject(self) -> None:
        current = self._require()
        self.live.reset()
        self.store.log("reject", current.item_id, current.slice_index)

    def carry(self, dz: int) -> Current:
        """Open the neighbouring slice and carry the last mask accepted on this one to it.

        With SAM 2 loaded its video predictor propagates the mask (memory attention over the
        slices) and the result is stored at once (undo removes it); otherwise the neighbour is
        prompted from the mask's interior point and the preview waits for accept.
        """
        current = self._require()
        masks = self.store.masks(current.item_id, current.slice_index)
        if not masks:
            raise InputError("carry: accept a mask on this slice first")
        row = masks[-1]
        previous = self.store.decode(row)
        target = current.slice_index + dz
        if hasattr(self.engine, "propagate"):
            frames = [self.catalog.rgb(current.item_id, z, current.window) for z in (current.slice_index, target)]
            carried = self.engine.propagate(frames, previous)[1]
            opened = self.open(current.item_id, target, current.window)
            if carried.any():
                self.store.accept_mask(current.item_id, target, row.label_id, carried, prompts={"carried_from": current.slice_index}, source="carry-sam2-video")
            return opened
        opened = self.open(current.item_id, target, current.window)
        from gazeseg.eval.clicks import interior_point

        point = interior_point(previous)
        if point is not None:
            self.live.add_click(point, True)
        return opened

    # -- views -----------------------------------------------------------------------------
    def overlay_png(self, item_id: int, slice_index: int) -> bytes:
        """RGBA PNG of the accepted masks, coloured by label class (transparent elsewhere)."""
        import cv2

        item = self.store.item(item_id)
        colors = {l.id: l.color for l in self.store.labels()}
        rgba = np.zeros((item.height, item.width, 4), np.uint8)
        for row in self.store.masks(item_id, slice_index):
            mask = self.store.decode(row)
            hexcolor = colors.get(row.label_id, "#1e90ff").lstrip("#")
            r, g, b = (int(hexcolor[i : i + 2], 16) for i in (0, 2, 4))
            rgba[mask] = (r, g, b, 110)
            edge = mask ^ cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            rgba[edge] = (r, g, b, 255)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        return bytes(buf)

    def state(self) -> dict:
        c = self.current
        return {
            "current": None if c is None else {"item": c.item_id, "slice": c.slice_index, "window": c.window, "height": c.image_hw[0], "width": c.image_hw[1]},
            "masks": [
                {"id": m.id, "item": m.item_id, "slice": m.slice_index, "label": m.label_id}
                for m in (self.store.masks(c.item_id) if c else [])
            ],
            "progress": self.progress,
            "engine": self.engine.model_id,
            "gaze_shift": [round(float(v), 2) for v in self.recalibration.shift_px],
        }

    # -- export ----------------------------------------------------------------------------
    def export(self, folder: Path) -> dict[str, list[str]]:
        """Masks as PNG label maps (2D) and NIfTI (volumes, source geometry), COCO JSON, gaze CSV."""
        from gazeseg.io.export import ExportMask, coco_json, label_map, write_gaze_rows, write_json
        from PIL import Image

        from gazeseg.io.volumes import save_label_volume

        self.flush_gaze()
        folder.mkdir(parents=True, exist_ok=True)
        labels = {l.id: l.name for l in self.store.labels()}
        label_index = {lid: i + 1 for i, lid in enumerate(sorted(labels))}
        written: dict[str, list[str]] = {"png": [], "nifti": [], "coco": [], "gaze": []}
        coco_masks = []
        for item in self.store.items():
            rows = self.store.masks(item.id)
            if not rows:
                continue
            decoded = [(r, self.store.decode(r)) for r in rows]
            coco_masks += [ExportMask(item.name, (item.height, item.width), labels.get(r.label_id, "object"), m, r.slice_index) for r, m in decoded]
            stem = Path(item.name).name.replace(".nii.gz", "").replace(".nii", "")
            stem = Path(stem).stem if item.kind != "volume" else stem
            if item.kind == "volume":
                volume = self.catalog.volume(item.id)
                labels_xyz = np.zeros(volume.data.shape[:3], np.uint8)
                for r, m in decoded:
                    labels_xyz[:, :, r.slice_index][m.T] = label_index[r.label_id]
                written["nifti"].append(str(save_label_volume(labels_xyz, volume, folder / f"{stem}_labels.nii.gz")))
            else:
                lm = label_map(((m, label_index[r.label_id]) for r, m in decoded), (item.height, item.width))
                target = folder / f"{stem}_labels.png"
                Image.fromarray(lm, mode="L").save(target)  # one channel: the class index per pixel
                written["png"].append(str(target))
        written["coco"].append(str(write_json(coco_json(coco_masks, [labels[k] for k in sorted(labels)]), folder / "annotations_coco.json")))
        rows = []
        names = {i.id: i.name for i in self.store.items()}
        for item_id, z, source, data in self.store.gaze():
            rows += [(names.get(item_id, item_id), z, source, f"{t:.6f}", f"{x:.2f}", f"{y:.2f}", int(v)) for t, x, y, v in data]
        written["gaze"].append(str(write_gaze_rows(rows, folder / "gaze.csv", ["item", "slice", "source", "t_s", "x_px", "y_px", "valid"])))
        self.store.log("export", folder=str(folder))
        return written

    def close(self) -> None:
        self.flush_gaze()
        self.live.close()
        self.prefetcher.close()
