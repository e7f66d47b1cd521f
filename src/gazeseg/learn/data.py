"""Training samples: an image (or its embedding), the prompts that produced a mask, and the mask.

Why resample prompts: one accepted mask came from one prompt sequence, but a model trained only on
that sequence overfits it; drawing fresh points and boxes from the mask (as interactive
segmentation papers do) gives many prompt/target pairs per annotation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.engines.base import Embedding

if TYPE_CHECKING:
    from gazeseg.app.catalog import Catalog
    from gazeseg.store.models import Item
    from gazeseg.store.project import ProjectStore


@dataclass
class TrainingSample:
    """One accepted object. ``image`` (RGB uint8) or a precomputed ``embedding`` must be set."""

    prompts: PromptSet
    mask: np.ndarray
    image: np.ndarray | None = None
    embedding: Embedding | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, bool)
        if self.image is None and self.embedding is None:
            raise InputError(f"training sample '{self.name}': expected an image or an embedding, got neither")
        if not self.mask.any():
            raise InputError(f"training sample '{self.name}': the mask is empty; drop it or accept a real mask")


def resample_prompts(mask: np.ndarray, rng: np.random.Generator, *, max_points: int = 3, box_prob: float = 0.3) -> PromptSet:
    """A fresh prompt for ``mask``: 1..max_points points (mostly inside) or a jittered box."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if rng.random() < box_prob:
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        jitter = 0.1 * np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0]) * rng.standard_normal(4)
        box = np.array([x0, y0, x1, y1], float) + jitter
        box = np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1])
        if box[2] <= box[0] or box[3] <= box[1]:
            box = np.array([x0, y0, x1, y1], float)
        return PromptSet(box_xyxy=box)
    # Points deep inside are what people click: weight by the distance to the border.
    depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1][ys, xs]
    weights = depth / depth.sum()
    n_pos = int(rng.integers(1, max_points + 1))
    pick = rng.choice(len(xs), size=n_pos, p=weights)
    points = [(float(xs[i]), float(ys[i])) for i in pick]
    labels = [1] * n_pos
    if n_pos > 1 and rng.random() < 0.5:
        ring = ndi.binary_dilation(mask, iterations=max(3, int(0.05 * max(h, w)))) & ~mask
        ry, rx = np.nonzero(ring)
        if len(rx):
            i = int(rng.integers(len(rx)))
            points.append((float(rx[i]), float(ry[i])))
            labels.append(0)
    return PromptSet(points_xy=np.array(points, float), labels=np.array(labels, int))


def data_hash(samples: list[TrainingSample]) -> str:
    """Content hash of the training masks and prompts: recorded with every checkpoint version."""
    h = hashlib.sha256()
    for s in samples:
        h.update(np.packbits(s.mask).tobytes())
        h.update(str(s.mask.shape).encode())
        h.update(np.asarray(s.prompts.points_xy, np.float64).tobytes())
        h.update(np.asarray(s.prompts.labels, np.int64).tobytes())
        if s.prompts.box_xyxy is not None:
            h.update(np.asarray(s.prompts.box_xyxy, np.float64).tobytes())
    return h.hexdigest()[:16]


def split(samples: list[TrainingSample], val_fraction: float, seed: int = 0) -> tuple[list[TrainingSample], list[TrainingSample]]:
    """Held-out split by sample (at least one on each side when there are two or more)."""
    if not samples:
        raise InputError("training data: expected at least one accepted mask, got none; accept some masks first")
    order = np.random.default_rng(seed).permutation(len(samples))
    n_val = 0 if len(samples) < 2 else max(1, round(val_fraction * len(samples)))
    val = [samples[i] for i in order[:n_val]]
    train = [samples[i] for i in order[n_val:]]
    return train, val


def samples_from_project(project: str | Path) -> list[TrainingSample]:
    """Accepted (not undone) masks of a project store, with the prompts that produced them.

    Images and volume slices alike: a slice is rendered as the engine saw it (``Catalog.rgb``, with
    the display window the slice was last opened with, else the automatic one).
    Masks of unreadable items are skipped.
    """
    from gazeseg.app.catalog import Catalog
    from gazeseg.core.errors import GazesegError
    from gazeseg.store.project import ProjectStore

    path = Path(project)
    if path.is_dir():
        candidates = sorted(path.glob("*.sqlite")) + sorted(path.glob("*.db"))
        if not candidates:
            raise InputError(f"project: no .sqlite/.db store in {path}; give the project file")
        path = candidates[0]
    if not path.is_file():
        raise InputError(f"project: expected a project store file, got '{path}' (missing); give the path of the app's project")
    store = ProjectStore(path)
    items = {item.id: item for item in store.items()}
    catalog = Catalog(store, keep=2)
    windows = _slice_windows(store)
    images: dict[tuple[int, int], np.ndarray] = {}
    samples = []
    for row in store.masks():
        item = items.get(row.item_id)
        if item is None or item.kind not in ("image", "volume"):
            continue
        z = row.slice_index if item.kind == "volume" else 0
        key = (item.id, z)
        if key not in images:
            try:
                images[key] = _item_rgb(catalog, item, z, windows.get(key), path.parent)
            except (GazesegError, OSError):
                continue
        record = json.loads(row.prompts or "{}")
        points = np.array(record.get("points", []), float).reshape(-1, 2)
        labels = np.array(record.get("labels", [1] * len(points)), int)
        box = np.array(record["box"], float) if record.get("box") is not None else None
        mask = store.decode(row)
        if not mask.any() or mask.shape != images[key].shape[:2]:
            continue
        prompts = PromptSet(points_xy=points, labels=labels, box_xyxy=box)
        name = f"{item.name}#{row.id}" if item.kind == "image" else f"{item.name}[z={z}]#{row.id}"
        samples.append(TrainingSample(prompts=prompts, mask=mask, image=images[key], name=name))
    return samples


def _slice_windows(store: ProjectStore) -> dict[tuple[int, int], str | None]:
    """(item, slice) -> the display window of the last time it was opened (the app logs it)."""
    windows: dict[tuple[int, int], str | None] = {}
    for event in store.events("open"):
        if event.item_id is None:
            continue
        try:
            payload = json.loads(event.payload or "{}")
        except json.JSONDecodeError:
            continue
        windows[(event.item_id, event.slice_index or 0)] = payload.get("window") or None
    return windows


def _item_rgb(catalog: Catalog, item: Item, z: int, window: str | None, base: Path) -> np.ndarray:
    from gazeseg.io.images import load_image, to_rgb_uint8

    if item.kind == "volume":
        return catalog.rgb(item.id, z, window)
    item_path = Path(item.path)
    if not item_path.is_absolute():  # stores written by hand may hold relative paths
        item_path = base / item_path
    return to_rgb_uint8(load_image(item_path))


def samples_from_dataset(root: str | Path, *, limit: int | None = None) -> list[TrainingSample]:
    """Ground truth of an evaluation folder standing in for accepted masks (simulated users)."""
    from gazeseg.eval.clicks import interior_point
    from gazeseg.eval.datasets import load_dataset
    from gazeseg.io.images import to_rgb_uint8

    samples = []
    for truth in load_dataset(root, limit=limit):
        gt, ignore = truth.load()
        if not gt.any():
            continue
        first = interior_point(gt, ignore)
        prompts = PromptSet(points_xy=np.array([first], float), labels=np.array([1]))
        samples.append(TrainingSample(prompts=prompts, mask=gt, image=to_rgb_uint8(truth.load_image()), name=truth.name))
    return samples
