import numpy as np
import pytest

from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine
from gazeseg.engines.cache import EmbeddingCache, default_cache_dir
from gazeseg.core.errors import InputError


class MeanColourEngine(Engine):
    """A deliberately simple engine: thresholds distance to the clicked colour. Counts embeds."""

    name = "mean-colour"

    def __init__(self):
        self.embeds = 0

    @property
    def model_id(self) -> str:
        return "mean-colour-v1"

    def _embed(self, image_rgb):
        self.embeds += 1
        return Embedding(self.model_id, "", image_rgb.shape[:2], {"lab": image_rgb.astype(np.float32)})

    def _predict(self, embedding, prompts, *, multimask):
        lab = embedding.payload["lab"]
        x, y = prompts.points_xy[0].astype(int)
        distance = np.linalg.norm(lab - lab[y, x], axis=2)
        masks = np.stack([distance < t for t in (10, 30, 60)])
        return MaskPrediction(masks, np.array([0.5, 0.6, 0.4]), np.zeros((3, 256, 256), np.float32))


def test_memory_and_disk_cache(tmp_path, data_dir):
    from gazeseg.io.images import load_image

    image = load_image(data_dir / "grabcut" / "data_GT" / "106024.jpg")
    engine = MeanColourEngine()
    cache = EmbeddingCache(disk_dir=tmp_path)
    first = cache.get_or_embed(engine, image)
    again = cache.get_or_embed(engine, image)
    assert again is first and engine.embeds == 1 and cache.hits == 1

    fresh = EmbeddingCache(disk_dir=tmp_path)  # a new process: only the disk is shared
    loaded = fresh.get_or_embed(engine, image)
    assert engine.embeds == 1 and fresh.disk_hits == 1
    prompts = PromptSet([[100, 100]], [1])
    np.testing.assert_array_equal(engine.predict(loaded, prompts).masks, engine.predict(first, prompts).masks)


def test_lru_evicts_by_bytes():
    engine = MeanColourEngine()
    cache = EmbeddingCache(max_bytes=3 * 32 * 32 * 3 * 4)
    images = [np.full((32, 32, 3), i, np.uint8) for i in range(5)]
    for image in images:
        cache.get_or_embed(engine, image)
    cache.get_or_embed(engine, images[0])
    assert engine.embeds == 6  # the oldest was evicted and recomputed


def test_corrupt_disk_entry_is_recomputed(tmp_path):
    engine = MeanColourEngine()
    cache = EmbeddingCache(disk_dir=tmp_path)
    image = np.zeros((16, 16, 3), np.uint8)
    cache.get_or_embed(engine, image)
    (entry,) = list(tmp_path.rglob("*.npz"))
    entry.write_bytes(b"garbage")
    EmbeddingCache(disk_dir=tmp_path).get_or_embed(engine, image)
    assert engine.embeds == 2


def test_predict_checks_prompts_and_model_identity():
    engine = MeanColourEngine()
    embedding = engine.embed(np.zeros((10, 20), np.uint8))
    with pytest.raises(InputError, match="outside the 20x10 image"):
        engine.predict(embedding, PromptSet([[25, 5]], [1]))
    with pytest.raises(InputError, match="at least one point"):
        engine.predict(embedding, PromptSet())
    embedding.model_id = "other"
    with pytest.raises(InputError, match="made by model 'other'"):
        engine.predict(embedding, PromptSet([[5, 5]], [1]))


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("GAZESEG_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
