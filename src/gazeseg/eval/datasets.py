"""Datasets of images with ground-truth masks, in the layouts of ``../shared/data`` and generic ones.

Layouts recognised (by folder content, not name, so unseen folders work):
- GrabCut: ``data_GT/`` images + ``boundary_GT/`` masks (255 object, 0 background, 128 ignored);
- DAVIS: ``img/`` + ``gt/`` with instance ids (non-zero = object, 255 = void, ignored);
- generic: ``images/`` + ``masks/``; a mask named like the image is one object, masks named
  ``<image stem>_<object>.png`` are several objects of that image (CT slices, one per organ);
  JPEG masks are thresholded at 127.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.io.images import IMAGE_SUFFIXES, load_image

MASK_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".gif")


@dataclass(frozen=True)
class ObjectTruth:
    """One object to segment: its name and where its mask comes from."""

    image_path: Path
    mask_path: Path
    name: str
    layout: str

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(object mask, ignore mask or None), both bool (H, W)."""
        raw = load_image(self.mask_path)
        if raw.ndim == 3:
            raw = raw[:, :, :3].max(axis=2)
        if self.layout == "grabcut":
            return raw > 200, (raw > 50) & (raw < 200)
        if self.layout == "davis":
            return (raw > 0) & (raw != 255), raw == 255
        return raw > 127, None

    def load_image(self) -> np.ndarray:
        return load_image(self.image_path)


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _pairs_by_stem(images: list[Path], masks: list[Path], layout: str) -> Iterator[ObjectTruth]:
    by_stem = {m.stem: m for m in masks}
    for image in images:
        if image.stem in by_stem:
            yield ObjectTruth(image, by_stem[image.stem], image.stem, layout)
            continue
        prefix = image.stem + "_"
        for mask in masks:
            if mask.stem.startswith(prefix):
                yield ObjectTruth(image, mask, mask.stem, layout)


def load_dataset(root: str | Path, *, limit: int | None = None) -> list[ObjectTruth]:
    """Every (image, object) pair of a dataset folder, sorted by name; ``limit`` keeps the first N."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset: no folder at '{root}'")
    if (root / "data_GT").is_dir() and (root / "boundary_GT").is_dir():
        objects = list(_pairs_by_stem(_files(root / "data_GT", IMAGE_SUFFIXES), _files(root / "boundary_GT", MASK_SUFFIXES), "grabcut"))
    elif (root / "img").is_dir() and (root / "gt").is_dir():
        objects = list(_pairs_by_stem(_files(root / "img", IMAGE_SUFFIXES), _files(root / "gt", MASK_SUFFIXES), "davis"))
    elif (root / "images").is_dir() and (root / "masks").is_dir():
        objects = list(_pairs_by_stem(_files(root / "images", IMAGE_SUFFIXES), _files(root / "masks", MASK_SUFFIXES), "binary"))
    else:
        raise InputError(
            f"dataset '{root}': layout not recognised; expected images/ + masks/, "
            "data_GT/ + boundary_GT/ (GrabCut) or img/ + gt/ (DAVIS)"
        )
    if not objects:
        raise InputError(f"dataset '{root}': found no image with a matching mask (masks are matched by file stem)")
    objects.sort(key=lambda o: o.name)
    return objects[:limit] if limit else objects
