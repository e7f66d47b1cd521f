"""Shared fixtures of the fine-tuning tests: a few real GrabCut objects, shrunk so that tiny
random encoders stay cheap."""

import numpy as np
import pytest

from gazeseg.core.types import PromptSet
from gazeseg.learn.data import samples_from_dataset

NAMES = ("teddy", "banana1", "llama")


@pytest.fixture(scope="module")
def samples(data_dir):
    import cv2

    chosen = [s for s in samples_from_dataset(data_dir / "grabcut") if s.name.split(".")[0] in NAMES]
    assert len(chosen) == len(NAMES)
    for s in chosen:  # a third-size copy of each image, mask and prompt
        h, w = s.mask.shape
        size = (w // 3, h // 3)
        s.image = cv2.resize(s.image, size, interpolation=cv2.INTER_AREA)
        s.mask = cv2.resize(s.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        s.prompts = PromptSet(points_xy=s.prompts.points_xy / 3, labels=s.prompts.labels)
    return chosen


def project_of(samples, folder):
    """A project store in ``folder`` whose accepted masks are ``samples`` (images written as PNG)."""
    import cv2

    from gazeseg.store.project import ProjectStore

    project = folder / "project.sqlite"
    store = ProjectStore(project)
    label = store.add_label("object", "#ff0000")
    for s in samples:
        img_path = folder / f"{s.name.split('.')[0]}.png"
        cv2.imwrite(str(img_path), s.image[:, :, ::-1])
        item = store.add_item(s.name, str(img_path), "image", s.mask.shape)
        store.accept_mask(item, 0, label, s.mask, prompts={"points": s.prompts.points_xy.tolist(), "labels": s.prompts.labels.tolist()})
    return project


@pytest.fixture
def make_project():
    return project_of
