"""What the project shows: images and volumes found at the given paths, rendered as RGB slices."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from gazeseg.core.errors import GazesegError, InputError
from gazeseg.io.images import load_image, to_rgb_uint8
from gazeseg.store import ProjectStore

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def write_samples(folder: Path) -> list[Path]:
    """scikit-image's bundled sample photos (no download) as PNGs in ``folder``."""
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SAMPLE_NAMES:
        path = folder / f"{name}.png"
        if not path.exists():
            Image.fromarray(getattr(skimage.data, name)()).save(path)
        paths.append(path)
    return paths


def is_volume_path(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return True
    return path.is_dir() and any(p.suffix.lower() == ".dcm" for p in path.iterdir())


def discover(paths: list[Path]) -> list[Path]:
    """Expand folders into their images, volumes and DICOM series (sorted, not recursive deeper than one level)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(f"open: nothing at {path}; give an image, a folder, a .nii/.nii.gz file or a DICOM folder")
        if path.is_file() or is_volume_path(path):
            found.append(path)
            continue
        for child in sorted(path.iterdir()):
            if child.is_file() and (child.suffix.lower() in IMAGE_SUFFIXES or is_volume_path(child)):
                found.append(child)
            elif child.is_dir() and is_volume_path(child):
                found.append(child)
    return found


def register_paths(store: ProjectStore, paths: list[Path]) -> None:
    """Add each path to the project; an unreadable file becomes an item with an error message."""
    from gazeseg.io.volumes import load_volume

    for path in paths:
        resolved = str(path.resolve())
        try:
            if is_volume_path(path):
                volume = load_volume(path)
                h, w = volume.slice_hw
                store.add_item(path.name, resolved, "volume", (h, w), depth=volume.depth)
            else:
                image = load_image(path)
                store.add_item(path.name, resolved, "image", image.shape[:2])
        except (GazesegError, OSError) as error:
            store.add_item(path.name, resolved, "broken", (0, 0), error=str(error))


class Catalog:
    """Loads items on demand and keeps a few decoded (volumes are large) in an LRU."""

    def __init__(self, store: ProjectStore, *, keep: int = 4) -> None:
        self.store = store
        self._cache: OrderedDict[int, object] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def _load(self, item_id: int) -> object:
        with self._lock:
            if item_id in self._cache:
                self._cache.move_to_end(item_id)
                return self._cache[item_id]
        item = self.store.item(item_id)
        if item.kind == "broken":
            raise InputError(f"{item.name}: cannot be opened: {item.error}")
        if item.kind == "volume":
            from gazeseg.io.volumes import load_volume

            data: object = load_volume(item.path)
        else:
            data = load_image(item.path)
        with self._lock:
            self._cache[item_id] = data
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return data

    def volume(self, item_id: int):  # noqa: ANN201
        from gazeseg.io.volumes import Volume

        data = self._load(item_id)
        if not isinstance(data, Volume):
            raise InputError(f"item {item_id}: not a volume")
        return data

    def rgb(self, item_id: int, slice_index: int = 0, window: str | None = None) -> np.ndarray:
        """The RGB uint8 picture of an image or of one slice of a volume (what the engine sees)."""
        from gazeseg.io.volumes import Volume

        data = self._load(item_id)
        if isinstance(data, Volume):
            return data.slice_rgb(slice_index, window)
        return to_rgb_uint8(data)  # type: ignore[arg-type]
