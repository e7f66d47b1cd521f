"""Exports: masks as PNG and COCO JSON (RLE, pycocotools), gaze as CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ExportMask:
    image_name: str
    image_hw: tuple[int, int]
    label: str
    mask: np.ndarray
    slice_index: int = 0
    score: float = 1.0


def rle_encode(mask: np.ndarray) -> dict:
    """COCO RLE (column-major, compressed counts as str) of a bool mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def rle_decode(rle: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    data = dict(rle)
    if isinstance(data["counts"], str):
        data["counts"] = data["counts"].encode("ascii")
    return mask_utils.decode(data).astype(bool)


def coco_json(masks: Sequence[ExportMask], categories: Sequence[str]) -> dict:
    """A COCO instances dict; slices of volumes become images named ``name#z``."""
    from pycocotools import mask as mask_utils

    cat_ids = {name: i + 1 for i, name in enumerate(categories)}
    images: dict[tuple[str, int], int] = {}
    out = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for n, i in cat_ids.items()]}
    for m in masks:
        key = (m.image_name, m.slice_index)
        if key not in images:
            images[key] = len(images) + 1
            name = m.image_name if m.slice_index == 0 and not m.image_name.endswith((".nii", ".gz")) else f"{m.image_name}#{m.slice_index}"
            out["images"].append({"id": images[key], "file_name": name, "height": m.image_hw[0], "width": m.image_hw[1]})
        rle = rle_encode(m.mask)
        enc = dict(rle, counts=rle["counts"].encode("ascii"))
        out["annotations"].append({
            "id": len(out["annotations"]) + 1,
            "image_id": images[key],
            "category_id": cat_ids.get(m.label, 1),
            "segmentation": rle,
            "area": float(mask_utils.area(enc)),
            "bbox": [float(v) for v in mask_utils.toBbox(enc)],
            "iscrowd": 0,
            "score": float(m.score),
        })
    return out


def write_json(data: dict, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
    return path


def label_map(masks: Iterable[tuple[np.ndarray, int]], hw: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 label image; later masks paint over earlier ones."""
    out = np.zeros(hw, np.uint8)
    for mask, value in masks:
        out[mask] = value
    return out


def write_gaze_rows(rows: Iterable[Sequence], path: str | Path, header: Sequence[str]) -> Path:
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
