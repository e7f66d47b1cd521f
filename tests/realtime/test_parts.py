"""Prefetch, tiles, GazeSAM's loop, mask encodings and the stage timer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples, PromptSet
from gazeseg.engines.base import image_digest
from gazeseg.engines.cache import EmbeddingCache
from gazeseg.eval.datasets import load_dataset
from gazeseg.io.images import load_image
from gazeseg.realtime import LiveSegmenter, StageTimer
from gazeseg.realtime.encode import mask_to_png, mask_to_rle, rle_to_mask
from gazeseg.realtime.gazesam_loop import GazeSamLoop
from gazeseg.realtime.prefetch import Prefetcher
from gazeseg.realtime.tiles import Crop, crop_around, crop_image, needs_tiling


def test_prefetch_fills_memory_and_disk_cache(counting_engine, data_dir, tmp_path):
    objects = load_dataset(data_dir / "grabcut", limit=3)
    cache = EmbeddingCache(disk_dir=tmp_path / "emb")
    reports = []
    with Prefetcher(counting_engine, cache, progress=reports.append) as prefetch:
        prefetch.submit_many([(o.name, o.load_image) for o in objects])
        prefetch.submit(objects[0].name, objects[0].load_image)  # queued once only
        assert prefetch.join(60)
        assert [r.done for r in reports] == [1, 2, 3] and all(r.total == 3 and r.error is None for r in reports)
        for o in objects:
            key = (counting_engine.model_id, image_digest(o.load_image()))
            assert key in cache
        assert len(list((tmp_path / "emb").rglob("*.npz"))) == 3
        assert cache.misses == 3
        # Opening a prefetched image embeds nothing more.
        with LiveSegmenter(counting_engine, cache=cache, prefetch=prefetch) as live:
            live.set_image(objects[1].name, objects[1].load_image())
            assert live.embedding.image_hw == objects[1].load_image().shape[:2]
        assert cache.misses == 3
        assert prefetch.wait("never-queued") is None
    # A new process (a fresh cache on the same disk) finds them too.
    again = EmbeddingCache(disk_dir=tmp_path / "emb")
    again.get_or_embed(counting_engine, objects[2].load_image())
    assert again.disk_hits == 1 and again.misses == 0


def test_prefetch_reports_a_failing_loader(counting_engine):
    reports = []
    def broken():
        raise FileNotFoundError("gone.png")

    with Prefetcher(counting_engine, EmbeddingCache(), progress=reports.append) as prefetch:
        future = prefetch.submit("bad", broken)
        with pytest.raises(FileNotFoundError):
            future.result(10)
        assert prefetch.join(10)
    assert reports[0].error.startswith("FileNotFoundError")
    with pytest.raises(InputError, match="loader"):
        Prefetcher(counting_engine, EmbeddingCache()).submit("x", "not-an-image")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(20, 6000), w=st.integers(20, 6000),
    fx=st.floats(0, 1), fy=st.floats(0, 1), size=st.sampled_from([256, 1024]),
)
def test_crop_contains_the_gaze_and_round_trips(h, w, fx, fy, size):
    centre = (fx * w, fy * h)
    crop = crop_around((h, w), centre, size=size)
    assert 0 <= crop.x0 and crop.x0 + crop.width <= w and 0 <= crop.y0 and crop.y0 + crop.height <= h
    assert crop.width == min(size, w) and crop.height == min(size, h)
    assert crop.contains(np.array([centre]))[0]
    pts = np.array([centre, (0.0, 0.0), (w, h)])
    np.testing.assert_allclose(crop.to_image(crop.to_crop(pts)), pts)


def test_crop_prompts_and_paste_on_a_fundus_image(data_dir):
    image = load_image(next((data_dir / "idrid" / "images").iterdir()))
    h, w = image.shape[:2]
    assert needs_tiling((h, w)) and not needs_tiling((480, 854))
    gaze = (0.7 * w, 0.4 * h)
    crop = crop_around((h, w), gaze, size=1024)
    crop_again = crop_around((h, w), (gaze[0] + 20, gaze[1] - 20), size=1024)
    assert crop == crop_again  # a small eye movement reuses the crop (and its embedding)
    pixels = crop_image(image, crop)
    assert pixels.shape[:2] == (1024, 1024)
    prompts = PromptSet(np.array([gaze, (5.0, 5.0)]), np.array([1, 0]))
    local = crop.prompts_to_crop(prompts)
    assert len(local.points_xy) == 1  # the far negative point is outside the crop
    x, y = local.points_xy[0]
    np.testing.assert_array_equal(pixels[int(y), int(x)], image[int(gaze[1]), int(gaze[0])])
    small = np.zeros((1024, 1024), bool)
    small[int(y), int(x)] = True
    full = crop.paste(small, (h, w))
    assert full.sum() == 1 and full[int(gaze[1]), int(gaze[0])]
    with pytest.raises(InputError, match="outside"):
        crop_around((h, w), (w + 10, 0))
    with pytest.raises(InputError, match="expected shape"):
        Crop(0, 0, 10, 10).paste(np.zeros((5, 5), bool), (20, 20))


def test_gazesam_loop_predicts_every_tick_even_unchanged(counting_engine, grabcut):
    image, gt, centre = grabcut
    embedding = counting_engine.embed(image)
    masks = []
    loop = GazeSamLoop(counting_engine, embedding, on_mask=masks.append)
    assert loop.tick() is None and loop.stats.no_sample == 1  # no gaze yet
    gaze = GazeSamples(np.array([0.0, 0.001, 0.002]), np.array([[5.0, 5.0], [np.nan, np.nan], list(centre)]),
                       np.array([True, False, True]), frame="image_px")
    loop.push_gaze(gaze)
    for _ in range(3):
        loop.tick()
    assert loop.stats.predicts == 3 and len(counting_engine.calls) == 3  # no caching, no filtering
    assert all(c.points_xy.tolist() == [list(centre)] for c in counting_engine.calls)  # the latest raw sample
    assert all(m.mask.shape == gt.shape for m in masks)  # full resolution every time
    with pytest.raises(InputError, match="image_px"):
        loop.push_gaze(GazeSamples.empty())


def test_gazesam_loop_thread_ticks_at_its_period(counting_engine, grabcut):
    image, _, centre = grabcut
    loop = GazeSamLoop(counting_engine, counting_engine.embed(image), period_s=0.01)
    loop.push_gaze(GazeSamples(np.array([0.0]), np.array([centre]), np.array([True]), frame="image_px"))
    loop.start()
    import time

    time.sleep(0.6)
    loop.stop()
    assert loop.stats.predicts >= 1 and loop.stats.predicts == loop.stats.ticks
    assert len(counting_engine.calls) == loop.stats.predicts


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (171, 256)])
def test_rle_round_trip_and_png(shape, rng):
    mask = rng.random(shape) > 0.6
    rle = mask_to_rle(mask)
    np.testing.assert_array_equal(rle_to_mask(rle), mask)
    assert sum(rle["counts"]) == mask.size
    import cv2

    png = mask_to_png(mask)
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(decoded > 0, mask)
    with pytest.raises(InputError, match="2-D"):
        mask_to_rle(np.zeros(3, bool))


def test_stage_timer_summaries():
    timer = StageTimer()
    for v in range(1, 101):
        timer.record("decode", float(v))
    with timer.stage("gaze"):
        pass
    summary = timer.summary()
    assert list(summary) == ["gaze", "decode"]
    assert summary["decode"].p50_ms == pytest.approx(50.5) and summary["decode"].p95_ms == pytest.approx(95.05)
    assert timer.over_budget(budget_ms=25.0) and not timer.over_budget(budget_ms=25.0, stages=("gaze",))
