"""The live path through the real segment-anything code: a tiny random SAM (plumbing, not quality)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("segment_anything")
pytest.importorskip("torch")

from gazeseg.realtime import LiveSegmenter  # noqa: E402
from gazeseg.realtime.live import preview_shape  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def tiny_sam():
    import torch

    from gazeseg.engines.sam import SamEngine, build_sam_model

    torch.manual_seed(0)
    return SamEngine(build_sam_model("tiny"), model_id="sam-tiny-random-test")


def test_previews_use_low_res_logits_and_accept_upsamples(tiny_sam, grabcut, monkeypatch):
    image, gt, centre = grabcut
    calls = {"predict": 0, "logits": 0}
    predict, logits = tiny_sam.predict, tiny_sam.predict_logits

    def count_predict(*a, **k):
        calls["predict"] += 1
        return predict(*a, **k)

    def count_logits(*a, **k):
        calls["logits"] += 1
        return logits(*a, **k)

    monkeypatch.setattr(tiny_sam, "predict", count_predict)
    monkeypatch.setattr(tiny_sam, "predict_logits", count_logits)
    with LiveSegmenter(tiny_sam, px_per_deg=29.0) as live:
        live.set_image("teddy", image)
        n = 36
        gaze_xy = np.asarray(centre) + np.random.default_rng(0).normal(0, 1.0, (n, 2))
        from gazeseg.core.types import GazeSamples

        live.push_gaze(GazeSamples(np.arange(n) / 120, gaze_xy, np.ones(n, bool), frame="image_px"))
        assert live.wait_idle(60) and live.stats.errors == 0
        preview = live.poll()
        assert calls == {"predict": 0, "logits": 1}  # the preview never upsampled to full size
        assert preview.mask.shape == preview_shape(gt.shape, 256)
        full = live.accept()
        assert calls["predict"] == 1 and full.shape == gt.shape
    # The preview is the chosen candidate's logits resampled; accept returns that same candidate.
    from gazeseg.realtime.live import logits_to_preview

    multimask = len(preview.prompts.points_xy) == 1
    scores, low = logits(live.embedding, preview.prompts, multimask=multimask)
    np.testing.assert_array_equal(logits_to_preview(low[preview.index], gt.shape, preview.mask.shape), preview.mask)
    np.testing.assert_array_equal(predict(live.embedding, preview.prompts, multimask=multimask).masks[preview.index], full)


def test_opening_an_image_prepares_the_decoder(tiny_sam, grabcut, monkeypatch):
    """The decoder's per-image work (dense prompt, first layer's projections) is done by
    ``set_image``, so the first fixation on a new image decodes as fast as the next ones."""
    from gazeseg.core.types import GazeSamples

    image, _, centre = grabcut
    builds = []
    build = tiny_sam._image_feeds._build
    monkeypatch.setattr(tiny_sam._image_feeds, "_build", lambda *arrays: builds.append(1) or build(*arrays))
    with LiveSegmenter(tiny_sam, px_per_deg=29.0) as live:
        live.set_image("teddy", image[::-1].copy())  # an image this engine has not seen
        assert len(builds) == 1
        gaze_xy = np.repeat(np.asarray(centre, float)[None], 36, 0)
        gaze_xy[:, 1] = image.shape[0] - gaze_xy[:, 1]
        live.push_gaze(GazeSamples(np.arange(36) / 120, gaze_xy, np.ones(36, bool), frame="image_px"))
        assert live.wait_idle(60) and live.stats.errors == 0 and live.poll() is not None
        assert len(builds) == 1  # the first decode reused it
