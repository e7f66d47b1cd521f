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
