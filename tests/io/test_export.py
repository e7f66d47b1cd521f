"""Exports on a real GrabCut ground truth: COCO RLE round trip via pycocotools, label PNGs, gaze CSV."""

import csv
import json

import cv2
import numpy as np
import pytest

from gazeseg.io.export import ExportMask, coco_json, label_map, rle_decode, rle_encode, write_gaze_rows, write_json


@pytest.fixture(scope="module")
def gt(data_dir):
    path = sorted((data_dir / "grabcut" / "boundary_GT").glob("*"))[0]
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127
    assert mask.any()
    return path.stem, mask


def test_rle_roundtrip_is_exact(gt):
    _, mask = gt
    rle = rle_encode(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == list(mask.shape)
    np.testing.assert_array_equal(rle_decode(json.loads(json.dumps(rle))), mask)


def test_coco_json_loads_in_pycocotools(gt, tmp_path):
    from pycocotools.coco import COCO

    name, mask = gt
    other = np.zeros_like(mask)
    other[:10, :10] = True
    data = coco_json([
        ExportMask(f"{name}.jpg", mask.shape, "object", mask),
        ExportMask(f"{name}.jpg", mask.shape, "lesion", other, score=0.5),
        ExportMask("case.nii.gz", (20, 30), "object", np.ones((20, 30), bool), slice_index=7),
    ], ["object", "lesion"])
    path = write_json(data, tmp_path / "coco.json")
    coco = COCO(str(path))
    assert sorted(img["file_name"] for img in coco.dataset["images"]) == sorted(["case.nii.gz#7", f"{name}.jpg"])
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    np.testing.assert_array_equal(coco.annToMask(anns[0]) > 0, mask)
    assert anns[0]["area"] == mask.sum() and anns[1]["category_id"] == 2
    ys, xs = np.nonzero(mask)
    assert anns[0]["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_label_map_and_gaze_csv(gt, tmp_path):
    _, mask = gt
    small = np.zeros_like(mask)
    small[mask.shape[0] // 2, mask.shape[1] // 2] = True
    labels = label_map([(mask, 1), (small, 3)], mask.shape)
    assert labels.dtype == np.uint8 and (labels == 1).sum() == mask.sum() - (small & mask).sum()
    assert labels[small].tolist() == [3]
    rows = [(0, 0, "mouse", 0.0167 * i, 10.0 + i, 20.0, 1) for i in range(5)]
    path = write_gaze_rows(rows, tmp_path / "gaze.csv", ["item", "slice", "source", "t", "x", "y", "valid"])
    with path.open() as handle:
        back = list(csv.DictReader(handle))
    assert len(back) == 5 and float(back[4]["x"]) == 14.0 and back[0]["source"] == "mouse"
