"""Training samples from a project: 2-D images and volume slices (BraTS FLAIR), as the app stores them."""

import numpy as np
import pytest

from gazeseg.app.catalog import Catalog, register_paths
from gazeseg.learn.data import samples_from_project
from gazeseg.store import ProjectStore

nib = pytest.importorskip("nibabel")


@pytest.fixture
def brats(data_dir):
    folder = data_dir / "brats" / "brats_2013_pat0001_1"
    tumour = np.asarray(nib.load(str(folder / "OTMultiClass.nii.gz")).dataobj) > 0
    return folder / "Flair_subtrMeanDivStd.nii.gz", tumour


def test_volume_slices_and_images_become_samples(tmp_path, data_dir, brats):
    flair, tumour = brats
    teddy = data_dir / "grabcut" / "data_GT" / "teddy.jpg"
    store = ProjectStore(tmp_path / "p.sqlite")
    register_paths(store, [flair, teddy])
    volume, image = store.items()
    label = store.labels()[0].id
    z_slices = np.flatnonzero(tumour.sum(axis=(0, 1)) > 50)[:2]
    for z in z_slices:  # the app stores slice masks in (rows, cols) of the rendered slice: the transpose
        store.accept_mask(volume.id, int(z), label, tumour[:, :, z].T, prompts={"points": [[100.0, 120.0]], "labels": [1]})
    store.log("open", volume.id, int(z_slices[1]), window="brain")
    box_mask = np.zeros((image.height, image.width), bool)
    box_mask[50:150, 60:200] = True
    store.accept_mask(image.id, 0, label, box_mask, prompts={"box": [60, 50, 199, 149]})

    samples = samples_from_project(tmp_path / "p.sqlite")
    assert len(samples) == 3
    catalog = Catalog(store)
    first, second, photo = samples
    assert "[z=" in first.name and first.image.shape == (*first.mask.shape, 3)
    np.testing.assert_array_equal(first.image, catalog.rgb(volume.id, int(z_slices[0])))
    np.testing.assert_array_equal(second.image, catalog.rgb(volume.id, int(z_slices[1]), "brain"))  # the window the user had
    np.testing.assert_array_equal(first.mask, tumour[:, :, z_slices[0]].T)
    np.testing.assert_allclose(first.prompts.points_xy, [[100.0, 120.0]])
    assert photo.prompts.box_xyxy is not None and photo.image.shape[:2] == box_mask.shape


def test_undone_masks_and_broken_items_are_left_out(tmp_path, data_dir):
    store = ProjectStore(tmp_path / "p.sqlite")
    register_paths(store, [data_dir / "grabcut" / "data_GT" / "teddy.jpg"])
    item = store.items()[0]
    mask = np.zeros((item.height, item.width), bool)
    mask[10:40, 10:40] = True
    store.accept_mask(item.id, 0, store.labels()[0].id, mask)
    store.accept_mask(item.id, 0, store.labels()[0].id, mask)
    store.undo()
    broken = store.add_item("gone.png", str(tmp_path / "gone.png"), "image", (20, 20))
    store.accept_mask(broken, 0, store.labels()[0].id, np.ones((20, 20), bool))
    samples = samples_from_project(tmp_path / "p.sqlite")
    assert len(samples) == 1 and samples[0].mask.sum() == 900
