"""Engines for the real-time tests: the classic engine, wrapped to count (and hold) decodes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.engines.registry import create_engine
from gazeseg.eval.datasets import load_dataset


class CountingEngine(Engine):
    """The classic engine, counting decodes; while ``gate`` is cleared a decode waits (a slow model)."""

    name = "counting"

    def __init__(self) -> None:
        self.inner = create_engine("classic")
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.calls: list[PromptSet] = []
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        return self.inner._embed(image_rgb)

    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        with self._lock:
            self.calls.append(prompts)
        self.started.set()
        assert self.gate.wait(30), "test gate never opened"
        return self.inner._predict(embedding, prompts, multimask=multimask)


@pytest.fixture
def counting_engine() -> CountingEngine:
    return CountingEngine()


@pytest.fixture(scope="session")
def grabcut(data_dir):
    """A real GrabCut image, its ground truth and an interior point of the object (x, y)."""
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "153077")
    gt, _ = obj.load()
    from gazeseg.eval.clicks import interior_point

    return obj.load_image(), gt, tuple(float(v) for v in interior_point(gt))
