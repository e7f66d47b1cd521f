"""``gazeseg segment IMAGE --gaze RECORDING --strategy NAME`` on a simulated recording of a real image."""

from __future__ import annotations

import numpy as np
import pytest

from gazeseg.cli import main
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from gazeseg.gaze.recording import write_gaze_csv
from gazeseg.gaze.simulator import GazeSimulator
from gazeseg.io.images import load_image


@pytest.fixture
def recorded(data_dir, tmp_path):
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "banana1")
    gt, ignore = obj.load()
    h, w = gt.shape
    geometry = ViewingGeometry()
    simulator = GazeSimulator("tobii-pro-nano", geometry, Viewport.fit(w, h, geometry), rng=np.random.default_rng(3))
    samples, _ = simulator.scanpath(simulator.landing_point(gt)[None], dwell_s=0.4)
    return obj, gt, ignore, write_gaze_csv(samples, tmp_path / "look.gaze.csv")


@pytest.mark.parametrize("strategy", ["fixation", "gazesam-point"])
def test_segment_from_a_gaze_recording(recorded, tmp_path, strategy, capsys):
    obj, gt, ignore, recording = recorded
    out = tmp_path / f"{strategy}.png"
    code = main(["segment", str(obj.image_path), "--engine", "classic", "--gaze", str(recording), "--strategy", strategy, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    mask = load_image(out) > 0
    assert mask.shape == gt.shape
    assert iou(mask, gt, ignore) > 0.5


def test_segment_with_an_unusable_recording_says_why(recorded, tmp_path, capsys):
    obj, _, _, recording = recorded
    lines = recording.read_text().splitlines()
    short = tmp_path / "short.gaze.csv"
    short.write_text("\n".join(lines[:4]) + "\n")  # a glance far shorter than the dwell threshold
    code = main(["segment", str(obj.image_path), "--engine", "classic", "--gaze", str(short), "--out", str(tmp_path / "m.png")])
    assert code == 1
    assert "no usable gaze" in capsys.readouterr().err
