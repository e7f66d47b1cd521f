"""Project store on a real SQLite file: commit per accept, undo/redo across items, reopen."""

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation
from gazeseg.store import ProjectStore


def _mask(hw, box):
    m = np.zeros(hw, bool)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = True
    return m


def test_accept_undo_redo_across_items_survive_reopen(tmp_path):
    path = tmp_path / "p.sqlite"
    store = ProjectStore(path)
    a = store.add_item("a.png", "a.png", "image", (40, 50))
    v = store.add_item("v.nii.gz", "v.nii.gz", "volume", (30, 30), depth=8)
    label = store.labels()[0].id
    m1 = store.accept_mask(a, 0, label, _mask((40, 50), (5, 20, 5, 30)))
    m2 = store.accept_mask(v, 3, label, _mask((30, 30), (2, 9, 2, 9)))
    assert store.undo().id == m2 and store.undo().id == m1
    assert store.masks() == []
    assert store.redo().id == m1
    # a fresh connection (a crash, a reload) sees exactly what was committed, redo stack included
    again = ProjectStore(path)
    assert [m.id for m in again.masks()] == [m1]
    assert again.redo().id == m2 and again.masks(v, 3)[0].id == m2
    np.testing.assert_array_equal(again.decode(again.masks(a)[0]), _mask((40, 50), (5, 20, 5, 30)))
    kinds = [e.kind for e in again.events()]
    assert kinds.count("accept") == 2 and kinds.count("undo") == 2 and kinds.count("redo") == 2


def test_new_accept_clears_redo_and_empty_mask_is_refused(tmp_path):
    store = ProjectStore(tmp_path / "p.sqlite")
    a = store.add_item("a.png", "a.png", "image", (20, 20))
    label = store.labels()[0].id
    store.accept_mask(a, 0, label, _mask((20, 20), (1, 5, 1, 5)))
    store.undo()
    store.accept_mask(a, 0, label, _mask((20, 20), (6, 9, 6, 9)))
    assert store.redo() is None
    with pytest.raises(InputError, match="empty"):
        store.accept_mask(a, 0, label, np.zeros((20, 20), bool))
    with pytest.raises(InputError, match="label"):
        store.accept_mask(a, 0, 999, _mask((20, 20), (1, 5, 1, 5)))


def test_labels_gaze_and_fixations_roundtrip(tmp_path):
    store = ProjectStore(tmp_path / "p.sqlite")
    a = store.add_item("a.png", "a.png", "image", (20, 20))
    tumour = store.add_label("tumour", "#ff0000")
    assert store.add_label("tumour", "#00ff00") == tumour
    assert {lab.name: lab.color for lab in store.labels()}["tumour"] == "#00ff00"
    with pytest.raises(InputError):
        store.add_label("  ", "#000000")
    t = np.arange(5, dtype=float) / 60
    xy = np.column_stack([np.arange(5.0), np.arange(5.0) * 2])
    store.add_gaze(a, 0, t, xy, np.ones(5, bool))
    ((item, z, source, rows),) = store.gaze(a)
    assert (item, z, source) == (a, 0, "mouse")
    np.testing.assert_allclose(rows[:, 0], t)
    np.testing.assert_allclose(rows[:, 1:3], xy)
    store.add_fixations(a, 0, [Fixation(0.0, 0.2, 3.0, 4.0, frame="image_px")])
    (fix,) = store.fixations(a)
    assert (fix.x, fix.y) == (3.0, 4.0)
