"""Each strategy on realistic gaze over a real GrabCut image and its ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples, MaskPrediction, PromptSet
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.prompts import available_strategies, create_strategy

RATE_HZ = 60.0
PX_PER_DEG = 29.0  # a 481 px wide GrabCut image fitted to a 15.6" screen at 60 cm


@pytest.fixture(scope="module")
def grabcut_object(data_dir):
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "153077")
    gt, ignore = obj.load()
    return obj.load_image(), gt, ignore


def look(rng, start_xy, target_xy, *, dwell_s=0.4, noise_px=3.0, offset_px=(0.0, 0.0), tail=None) -> GazeSamples:
    """A saccade from ``start_xy`` then a noisy fixation on ``target_xy`` (+ a tracker offset), 60 Hz."""
    n_sacc, n_fix = 3, int(dwell_s * RATE_HZ)
    sacc = np.linspace(start_xy, target_xy, n_sacc + 2)[1:-1]
    fix = np.asarray(target_xy) + np.asarray(offset_px) + rng.normal(0, noise_px, (n_fix, 2))
    xy = np.concatenate([sacc, fix] + ([np.asarray(tail, float).reshape(-1, 2)] if tail is not None else []))
    t = np.arange(len(xy)) / RATE_HZ
    return GazeSamples(t, xy, np.ones(len(xy), bool), frame="image_px")


def test_registry_names_and_errors():
    assert {"gazesam-point", "gazesam-all", "fixation"} <= set(available_strategies())
    with pytest.raises(InputError, match="choose one of"):
        create_strategy("nope")
    with pytest.raises(InputError, match="bad option"):
        create_strategy("gazesam-point", accuracy_deg=1.0)


def test_gazesam_point_is_the_latest_raw_sample_unfiltered(rng, grabcut_object):
    image, gt, _ = grabcut_object
    centre = interior_point(gt)
    # The last sample is a tracker glitch far off: GazeSAM's rule passes it on unchanged.
    gaze = look(rng, (10, 10), centre, tail=[(5.0, 300.0)])
    prompts = create_strategy("gazesam-point").build(gaze, px_per_deg=PX_PER_DEG, image_hw=gt.shape)
    assert prompts.points_xy.tolist() == [[5.0, 300.0]] and prompts.labels.tolist() == [1]


def test_gazesam_all_sends_every_valid_sample(rng, grabcut_object):
    _, gt, _ = grabcut_object
    gaze = look(rng, (10, 10), interior_point(gt))
    valid = gaze.valid.copy()
    valid[5] = False
    gaze = GazeSamples(gaze.t_s, gaze.xy, valid, frame="image_px")
    prompts = create_strategy("gazesam-all").build(gaze, px_per_deg=PX_PER_DEG, image_hw=gt.shape)
    assert len(prompts.points_xy) == int(valid.sum()) and set(prompts.labels.tolist()) == {1}


def test_strategies_refuse_gaze_in_another_frame(rng):
    gaze = GazeSamples(np.arange(5) / 60, np.full((5, 2), 0.5), np.ones(5, bool), frame="display_norm")
    for name in ("gazesam-point", "fixation"):
        with pytest.raises(InputError, match="image_px"):
            create_strategy(name).build(gaze, px_per_deg=PX_PER_DEG, image_hw=(100, 100))


def test_no_valid_gaze_gives_no_prompt():
    gaze = GazeSamples(np.arange(5) / 60, np.full((5, 2), np.nan), np.zeros(5, bool), frame="image_px")
    for name in available_strategies():
        assert create_strategy(name).build(gaze, px_per_deg=PX_PER_DEG, image_hw=(100, 100)) is None


def test_fixation_point_is_robust_to_saccades_and_glitches(rng, grabcut_object):
    _, gt, _ = grabcut_object
    centre = np.array(interior_point(gt))
    gaze = look(rng, (10, 10), centre, noise_px=4.0, tail=[(5.0, 300.0)])
    prompts = create_strategy("fixation", accuracy_deg=0.5).build(gaze, px_per_deg=PX_PER_DEG, image_hw=gt.shape)
    # Six foveal-ring points, then the fixation centre last.
    assert len(prompts.points_xy) == 7 and set(prompts.labels.tolist()) == {1}
    assert np.hypot(*(prompts.points_xy[-1] - centre)) < 4.0
    assert gt[int(prompts.points_xy[-1, 1]), int(prompts.points_xy[-1, 0])]
    ring = np.hypot(*(prompts.points_xy[:-1] - prompts.points_xy[-1]).T)
    np.testing.assert_allclose(ring, 0.75 * PX_PER_DEG, rtol=1e-6)


def test_fixation_needs_the_dwell_threshold(rng, grabcut_object):
    _, gt, _ = grabcut_object
    short = look(rng, (10, 10), interior_point(gt), dwell_s=0.05)
    strategy = create_strategy("fixation", min_dwell_s=0.15)
    assert strategy.build(short, px_per_deg=PX_PER_DEG, image_hw=gt.shape) is None
    long = look(rng, (10, 10), interior_point(gt), dwell_s=0.4)
    assert strategy.build(long, px_per_deg=PX_PER_DEG, image_hw=gt.shape) is not None


def test_fixations_on_two_places_give_two_points_and_repeats_merge(rng, grabcut_object):
    _, gt, _ = grabcut_object
    a = np.array(interior_point(gt))
    b = a + np.array([8 * PX_PER_DEG / 4, 0])  # 2 degrees away
    blocks = [look(rng, (10, 10), a), look(rng, a, b), look(rng, b, a + 2.0)]
    t0 = 0.0
    shifted = []
    for block in blocks:
        shifted.append(GazeSamples(block.t_s + t0, block.xy, block.valid, frame="image_px"))
        t0 = shifted[-1].t_s[-1] + 1 / RATE_HZ
    gaze = GazeSamples.concat(shifted)
    prompts = create_strategy("fixation", accuracy_deg=0.3, fovea_points=0).build(gaze, px_per_deg=PX_PER_DEG, image_hw=gt.shape)
    assert len(prompts.points_xy) == 2
    assert min(np.hypot(*(p - a)) for p in prompts.points_xy) < 4.0


def test_fixation_choice_keeps_the_mask_under_the_gaze(rng, grabcut_object):
    _, gt, _ = grabcut_object
    centre = np.array(interior_point(gt))
    gaze = look(rng, (10, 10), centre)
    background = ~gt  # not under the gaze, yet scored highest by the "engine"
    prediction = MaskPrediction(
        masks=np.stack([background, gt]), scores=np.array([0.95, 0.6], np.float32),
        low_res_logits=np.zeros((2, 256, 256), np.float32),
    )
    assert create_strategy("gazesam-point").choose(prediction, gaze, px_per_deg=PX_PER_DEG) == 0
    assert create_strategy("fixation").choose(prediction, gaze, px_per_deg=PX_PER_DEG) == 1


def test_corrections_are_appended(rng, grabcut_object):
    _, gt, _ = grabcut_object
    gaze = look(rng, (10, 10), interior_point(gt))
    extra = PromptSet(np.array([[3.0, 4.0]]), np.array([0]))
    for name in ("gazesam-point", "fixation"):
        prompts = create_strategy(name).build(gaze, px_per_deg=PX_PER_DEG, image_hw=gt.shape, corrections=extra)
        # Earlier inputs first, the new look last; no foveal ring once the user is correcting.
        assert prompts.labels[0] == 0 and prompts.points_xy[0].tolist() == [3.0, 4.0]
        assert len(prompts.points_xy) == 2 and prompts.labels[-1] == 1


def test_looks_just_off_the_image_edge_give_points_inside(rng):
    # Two fixations a few px left of the image (tracker offset), merged: the point stays on the image.
    blocks = [look(rng, (50, 50), (-6.0, 40.0)), look(rng, (-6.0, 40.0), (-7.0, 42.0))]
    blocks[1] = GazeSamples(blocks[1].t_s + blocks[0].t_s[-1] + 1 / RATE_HZ, blocks[1].xy, blocks[1].valid, frame="image_px")
    gaze = GazeSamples.concat(blocks)
    prompts = create_strategy("fixation").build(gaze, px_per_deg=PX_PER_DEG, image_hw=(120, 160))
    assert prompts is not None
    assert np.all(prompts.points_xy >= 0) and np.all(prompts.points_xy[:, 0] <= 160) and np.all(prompts.points_xy[:, 1] <= 120)
