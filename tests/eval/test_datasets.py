import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import dice, iou, noc


def test_layouts_of_shared_data(data_dir):
    grabcut = load_dataset(data_dir / "grabcut")
    assert len(grabcut) == 50 and grabcut[0].layout == "grabcut"
    loaded = [o.load() for o in grabcut[:5]]
    assert all(mask.any() and not (mask & ignore).any() for mask, ignore in loaded)
    assert any(ignore.any() for _, ignore in loaded)  # the 128 band, where an image has one
    davis = load_dataset(data_dir / "davis")
    assert len(davis) == 115
    ct = load_dataset(data_dir / "ct_slices")
    assert len({o.image_path for o in ct}) == 4 and len(ct) == 30  # one object per organ mask; one slice has none
    kvasir = load_dataset(data_dir / "kvasir", limit=3)
    mask, ignore = kvasir[0].load()
    assert ignore is None and 0.01 < mask.mean() < 0.9


def test_unknown_layout(tmp_path):
    with pytest.raises(InputError, match="layout not recognised"):
        load_dataset(tmp_path)


def test_metrics():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:, :5] = True
    assert iou(a, b) == pytest.approx(25 / 75)
    assert dice(a, b) == pytest.approx(0.5)
    ignore = np.zeros_like(a)
    ignore[:5, 5:] = True
    assert iou(a, b, ignore) == pytest.approx(25 / 50)
    assert noc([0.5, 0.86, 0.91], 0.85) == 2 and noc([0.5], 0.9) == 20
