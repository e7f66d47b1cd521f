"""LiveSegmenter semantics on a real GrabCut image with the classic engine: counts, not timings."""

from __future__ import annotations

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples
from gazeseg.gaze.simulator import GazeSimulator
from gazeseg.gaze.transforms import to_image_px
from gazeseg.realtime import LiveSegmenter
from gazeseg.realtime.live import preview_shape

GEOMETRY = ViewingGeometry()


def fixation_gaze(xy, *, t0=0.0, dwell_s=0.3, rate_hz=120.0, rng=None, noise_px=1.0) -> GazeSamples:
    """A steady look at ``xy`` (image px) with small noise."""
    rng = rng or np.random.default_rng(0)
    n = int(dwell_s * rate_hz)
    pts = np.asarray(xy, float) + rng.normal(0, noise_px, (n, 2))
    return GazeSamples(t0 + np.arange(n) / rate_hz, pts, np.ones(n, bool), frame="image_px")


@pytest.fixture
def live(counting_engine, grabcut):
    image, _, _ = grabcut
    seg = LiveSegmenter(counting_engine, px_per_deg=29.0)
    seg.set_image("153077", image)
    yield seg
    seg.close()


def test_burst_of_prompts_decodes_only_the_newest(live, counting_engine, grabcut):
    _, gt, centre = grabcut
    h, w = gt.shape
    counting_engine.gate.clear()
    live.add_click(centre, True)  # the worker takes this one and blocks in decode
    assert counting_engine.started.wait(10)
    for x in (0.2, 0.4, 0.6, 0.8):  # a burst while the decoder is busy
        live.add_click((x * w, 0.1 * h), False)
    counting_engine.gate.set()
    assert live.wait_idle(30)
    assert len(counting_engine.calls) == 2  # the first and the newest; three stale ones dropped
    assert live.stats.dropped_stale == 3 and live.stats.submitted == 5 and live.stats.decoded == 2
    newest = counting_engine.calls[-1]
    assert len(newest.points_xy) == 5 and newest.points_xy[-1].tolist() == pytest.approx([0.8 * w, 0.1 * h])
    preview = live.poll()
    assert preview is not None and preview.revision == 5 and len(preview.prompts.points_xy) == 5
    assert live.poll() is None  # nothing newer since


def test_unchanged_prompts_are_not_decoded_again(live, counting_engine, grabcut):
    _, gt, centre = grabcut
    live.push_gaze(fixation_gaze(centre))
    assert live.wait_idle(30)
    assert live.stats.fixations == 0 and live.stats.submitted == 1 and len(counting_engine.calls) == 1
    # Looking away off the image and back at the same place: same prompt, no decode.
    away = GazeSamples(np.array([0.31, 0.32]), np.array([[np.nan, np.nan]] * 2), np.zeros(2, bool), frame="image_px")
    live.push_gaze(away)
    live.push_gaze(fixation_gaze(np.asarray(centre) + 3.0, t0=0.4))
    assert live.wait_idle(30)
    assert len(counting_engine.calls) == 1 and live.stats.submitted == 1
    # A look somewhere else is a new prompt: exactly one more decode.
    live.push_gaze(fixation_gaze((20.0, 20.0), t0=1.0))
    assert live.wait_idle(30)
    assert len(counting_engine.calls) == 2
    assert live.poll().prompts.points_xy.shape == (2, 2)


def test_preview_is_low_res_and_accept_full_res(live, grabcut):
    _, gt, centre = grabcut
    live.push_gaze(fixation_gaze(centre))
    assert live.wait_idle(30)
    preview = live.poll()
    assert preview.mask.shape == preview_shape(gt.shape, 256) and max(preview.mask.shape) == 256
    assert preview.scale == pytest.approx(256 / max(gt.shape), rel=0.01)
    assert set(preview.timings_ms) >= {"gaze", "fixation", "prompt", "decode", "postprocess"}
    full = live.accept()
    assert full.shape == gt.shape and full.dtype == bool
    from gazeseg.realtime.encode import rle_to_mask

    np.testing.assert_array_equal(rle_to_mask(live.encode(preview, "rle")), preview.mask)
    assert live.encode(preview, "png")[:4] == b"\x89PNG"
    total = live.record_delivery(preview)
    assert total >= preview.latency_ms
    assert {"encode", "delivery", "total"} <= set(live.timer.summary())
    import cv2

    small = cv2.resize(full.astype(np.uint8), preview.mask.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    iou = (small & preview.mask).sum() / max(1, (small | preview.mask).sum())
    assert iou > 0.8  # the preview shows the mask that accept returns
    # Real data: the object looked at is found (the classic engine on a GrabCut image).
    assert (full & gt).sum() / max(1, (full | gt).sum()) > 0.5


def test_1200hz_stream_is_ingested_without_backlog(counting_engine, grabcut):
    image, gt, centre = grabcut
    h, w = gt.shape
    viewport = Viewport.fit(w, h, GEOMETRY)
    sim = GazeSimulator("tobii-pro-spectrum", GEOMETRY, viewport, rng=3)
    targets = np.array([centre, (0.2 * w, 0.2 * h), (0.8 * w, 0.7 * h), centre, (0.5 * w, 0.9 * h)] * 4)
    raw, intended = sim.scanpath(targets, 0.3)
    gaze = to_image_px(raw, GEOMETRY, viewport)
    assert 1150 < len(gaze) / gaze.duration_s < 1250
    seg = LiveSegmenter(counting_engine, px_per_deg=viewport.image_px_per_deg(GEOMETRY))
    seg.set_image("153077", image)
    counting_engine.gate.clear()  # the decoder is stuck the whole time: ingestion must not care
    pending = []
    block = 10  # ~8 ms of samples per SDK callback
    for i in range(0, len(gaze), block):
        seg.push_gaze(gaze.select(slice(i, i + block)))
        if seg.stats.submitted == 1:
            assert counting_engine.started.wait(10)  # the worker holds the first; later ones queue
        pending.append(int(seg._mailbox is not None))
    assert seg.stats.samples == len(gaze)
    assert max(pending) <= 1  # a single slot: the queue never grows
    assert seg.stats.submitted >= 3  # distinct places became prompts
    assert seg.stats.dropped_stale == seg.stats.submitted - 2
    counting_engine.gate.set()
    assert seg.wait_idle(30)
    assert len(counting_engine.calls) == 2
    seg.close()


def test_generic_strategy_gazesam_point(counting_engine, grabcut):
    image, _, centre = grabcut
    with LiveSegmenter(counting_engine, strategy="gazesam-point", px_per_deg=29.0) as seg:
        seg.set_image("x", image)
        seg.push_gaze(fixation_gaze(centre, dwell_s=0.05))
        assert seg.wait_idle(30)
        preview = seg.poll()
        assert preview is not None and len(preview.prompts.points_xy) == 1


def test_zoom_rescales_thresholds(live):
    merge = live.merge_px
    live.set_px_per_deg(58.0)
    assert live.px_per_deg == 58.0 and live.merge_px == pytest.approx(2 * merge)
    with pytest.raises(InputError, match="px_per_deg"):
        live.set_px_per_deg(-1)


def test_a_rejected_place_gives_no_positive_point(live, grabcut):
    """To reject part of a mask the user looks at it (a fixation: a positive point) and presses
    the reject key (a negative point there): the negative removes that positive, and looking there
    again adds none."""
    _, _, centre = grabcut
    live.push_gaze(fixation_gaze(centre))
    wrong = (20.0, 20.0)
    live.push_gaze(fixation_gaze(wrong, t0=0.4))
    assert live.wait_idle(30)
    assert live.current_prompts().labels.tolist() == [1, 1]
    live.add_click(wrong, False)
    live.push_gaze(GazeSamples(np.array([0.75]), np.array([[np.nan, np.nan]]), np.zeros(1, bool), frame="image_px"))  # a blink
    live.push_gaze(fixation_gaze((22.0, 21.0), t0=0.8))  # a new fixation on the rejected place
    assert live.wait_idle(30)
    prompts = live.current_prompts()
    assert prompts.labels.tolist() == [1, 0]
    assert prompts.points_xy[0] == pytest.approx(centre, abs=3.0) and prompts.points_xy[1].tolist() == [20.0, 20.0]
    live.push_gaze(fixation_gaze((300.0, 200.0), t0=1.2))  # elsewhere: a positive as usual
    assert live.wait_idle(30)
    assert live.current_prompts().labels.tolist() == [1, 1, 0]


def test_reset_forgets_prompts(live, grabcut):
    _, _, centre = grabcut
    live.add_click(centre, True)
    assert live.wait_idle(30)
    live.reset()
    assert live.current_prompts() is None and live.poll() is None
    with pytest.raises(InputError, match="no prompts"):
        live.accept()


@pytest.mark.parametrize(
    "call, match",
    [
        pytest.param(lambda s: s.push_gaze(GazeSamples.empty("display_norm")), "image_px", id="wrong-frame"),
        pytest.param(lambda s: s.add_click((1e6, 5.0), True), "outside", id="click-outside"),
        pytest.param(lambda s: s.add_click((np.nan, 5.0), True), "finite", id="click-nan"),
    ],
)
def test_bad_input_is_a_clear_error(live, call, match):
    with pytest.raises(InputError, match=match):
        call(live)


def test_push_before_set_image(counting_engine):
    with LiveSegmenter(counting_engine) as seg, pytest.raises(InputError, match="set_image"):
        seg.push_gaze(fixation_gaze((5, 5)))
    with pytest.raises(InputError, match="px_per_deg"):
        LiveSegmenter(counting_engine, px_per_deg=0)


def test_large_image_is_segmented_on_crops_around_the_gaze(counting_engine, data_dir):
    """A 4288x2848 fundus photograph: the engine sees native-resolution 1024 px crops around the
    newest fixation, nearby looks reuse the crop (and its embedding), the mask is pasted back."""
    from gazeseg.io.images import load_image

    image = load_image(data_dir / "idrid" / "images" / "IDRiD_01.jpg")
    h, w = image.shape[:2]
    embedded: list[tuple[int, ...]] = []
    inner_embed = counting_engine._embed
    counting_engine._embed = lambda rgb: (embedded.append(rgb.shape), inner_embed(rgb))[1]
    with LiveSegmenter(counting_engine, px_per_deg=60.0) as live:
        live.set_image("IDRiD_01", image)
        assert embedded == [] and live.embedding is None  # nothing embedded whole
        first = (0.7 * w, 0.45 * h)
        live.push_gaze(fixation_gaze(first))
        assert live.wait_idle(60)
        preview = live.poll()
        assert preview is not None and preview.crop is not None
        assert embedded == [(1024, 1024, 3)]
        assert preview.crop.contains(np.array([first]), margin_px=128)[0]
        # The preview covers the whole image at preview scale, and is empty outside the crop.
        assert preview.mask.shape == preview_shape((h, w), live.preview_long_side)
        outside = np.ones_like(preview.mask)
        s = preview.scale
        outside[int(preview.crop.y0 * s) + 1: int((preview.crop.y0 + 1024) * s) - 1, int(preview.crop.x0 * s) + 1: int((preview.crop.x0 + 1024) * s) - 1] = False
        assert not preview.mask[outside].any()
        # A look 150 px away stays on the same crop: no new embedding.
        live.push_gaze(fixation_gaze((first[0] + 150, first[1]), t0=1.0))
        assert live.wait_idle(60)
        assert len(embedded) == 1 and live.poll().crop == preview.crop
        # Accepting gives a full-size mask, inside the crop, covering the newest look.
        mask = live.accept()
        assert mask.shape == (h, w) and mask[int(first[1]), int(first[0]) + 150]
        rows, cols = np.nonzero(mask)
        assert rows.min() >= preview.crop.y0 and rows.max() < preview.crop.y0 + 1024
        assert cols.min() >= preview.crop.x0 and cols.max() < preview.crop.x0 + 1024
        # Looking at the far side of the image moves to a new crop there.
        live.reset()
        far = (0.2 * w, 0.6 * h)
        live.push_gaze(fixation_gaze(far, t0=2.0))
        assert live.wait_idle(60)
        moved = live.poll()
        assert len(embedded) == 2 and moved.crop != preview.crop and moved.crop.contains(np.array([far]))[0]
