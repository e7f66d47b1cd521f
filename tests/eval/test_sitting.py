"""``--recalibrate``: one sitting with a webcam on real GrabCut objects, with and without learning its offset."""

from __future__ import annotations

import json

import numpy as np

from gazeseg.cli import main
from gazeseg.eval.runner import EvalConfig, run_evaluation


def test_a_sitting_learns_the_webcam_offset_and_masks_improve(data_dir):
    config = EvalConfig(data_dir / "grabcut", strategies=("fixation",), presets=("webcam",), clicks=False,
                        limit=10, max_looks=1, stop_iou=None, recalibrate=True)
    rows = run_evaluation(config, progress=False).rows
    plain, learnt = rows["fixation@webcam"], rows["fixation+recal@webcam"]
    assert [r["object"] for r in plain] == [r["object"] for r in learnt]
    first_plain, first_learnt = (np.array([r["ious"][0] for r in rs]) for rs in (plain, learnt))
    # Nothing is learnt before the first accepted mask: the same gaze, the same first mask.
    assert first_learnt[0] == first_plain[0]
    # One offset for the whole sitting, learnt from the masks accepted so far: the later objects'
    # first masks are far better than without it (a 4 deg webcam misses small objects entirely).
    later = slice(4, None)
    assert first_learnt[later].mean() > first_plain[later].mean() + 0.1, (first_plain.round(2), first_learnt.round(2))
    # and the gaze error each object carried shrank once the learner had seen a few objects
    error_plain, error_learnt = ([r["gaze_error_deg"] for r in rs] for rs in (plain, learnt))
    assert len(set(np.round(error_plain, 6))) == 1  # one offset for the sitting
    assert error_learnt[0] == error_plain[0] and error_learnt[-1] < 0.5 * error_plain[-1]


def test_cli_reports_a_sitting(data_dir, tmp_path):
    out = tmp_path / "sitting"
    code = main(["eval", str(data_dir / "grabcut"), "--limit", "3", "--preset", "webcam", "--strategy", "gazesam-point",
                 "--no-clicks", "--max-looks", "1", "--recalibrate", "--out", str(out)])
    assert code == 0
    assert "One sitting" in (out / "report.md").read_text()
    assert (out / "sitting_error.png").stat().st_size > 1000 and "sitting_error.png" in (out / "report.md").read_text()
    data = json.loads((out / "report.json").read_text())
    assert set(data["summary"]) == {"gazesam-point@webcam", "gazesam-point+recal@webcam"}
    assert data["config"]["recalibrate"] is True


def test_only_masks_the_user_would_accept_teach(data_dir):
    from gazeseg.core.geometry import ViewingGeometry, Viewport
    from gazeseg.eval.gaze_protocol import GazeTrace
    from gazeseg.eval.runner import Sitting

    geometry = ViewingGeometry()
    sitting = Sitting(EvalConfig(data_dir / "grabcut", presets=("webcam",)), geometry)
    learner = sitting.recalibration("fixation", "webcam")
    mask = np.zeros((100, 150), bool)
    mask[20:60, 30:90] = True
    viewport = Viewport.fit(150, 100, geometry)
    for final_iou in (0.3, 0.49, 0.8):  # a user discards a mask on the wrong object
        trace = GazeTrace(ious=[0.1, final_iou], first_look_screen_xy=np.array([900.0, 500.0]), final_mask=mask)
        sitting.learn(learner, trace, viewport)
    assert learner.n_samples == 1
    # the sitting's offset is one draw per preset, the same for every object
    assert np.hypot(*sitting.offsets["webcam"]) > geometry.deg_to_px(4.0 * 0.5) - 1
