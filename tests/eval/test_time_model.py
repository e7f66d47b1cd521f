"""The time model's formulas, against hand-computed values from the cited constants."""

from __future__ import annotations

import math

import pytest

from gazeseg.eval.time_model import (
    Interaction,
    TimeConstants,
    fitts_time_s,
    gaze_time,
    mouse_time,
    saccade_time_s,
)

C = TimeConstants()


def test_fitts_shannon_form_with_mackenzie_mouse_constants():
    # D = 300, W = 20: ID = log2(16) = 4 bits -> -0.107 + 0.223 * 4 = 0.785 s
    assert fitts_time_s(300, 20) == pytest.approx(0.785)
    # Farther or smaller targets take longer; a hit at the cursor costs nothing.
    assert fitts_time_s(600, 20) > fitts_time_s(300, 20) > fitts_time_s(300, 80)
    assert fitts_time_s(0, 20) == 0.0


def test_saccade_main_sequence():
    assert saccade_time_s(10) == pytest.approx(0.2 + 0.021 + 0.022)
    assert saccade_time_s(-10) == saccade_time_s(10)


def test_mouse_time_one_click_by_hand():
    click = Interaction(x=1260, y=540, width_px=60, engine_s=0.1)
    t = mouse_time([click], start_xy=(960, 540))
    fitts = C.fitts_a_s + C.fitts_b_s * math.log2(300 / 60 + 1)
    expected = C.mental_s + C.homing_s + C.mental_s + fitts + 2 * C.button_s + 0.1 + C.mental_s + C.keystroke_s
    assert t.total_s == pytest.approx(expected)
    assert t.parts["point"] == pytest.approx(fitts)


def test_gaze_time_counts_saccades_only_for_corrections_and_double_key_for_rejects():
    first = Interaction(x=100, y=100, width_px=50, engine_s=0.05, dwell_s=0.3)
    reject = Interaction(x=100 + 58.5 * 5, y=100, width_px=10, label=0, engine_s=0.05, dwell_s=0.3)
    one = gaze_time([first], px_per_deg=58.5)
    assert "saccade" not in one.parts
    assert one.total_s == pytest.approx(C.mental_s + 0.3 + C.keystroke_s + 0.05 + C.mental_s + C.keystroke_s)
    two = gaze_time([first, reject], px_per_deg=58.5)
    assert two.parts["saccade"] == pytest.approx(saccade_time_s(5.0))
    assert two.parts["confirm"] == pytest.approx(3 * C.keystroke_s)


def test_gaze_beats_mouse_per_interaction_under_the_model():
    # Same target, same engine time: the gaze look skips the decision, homing and pointing.
    look = Interaction(x=1400, y=300, width_px=80, engine_s=0.1, dwell_s=0.3)
    assert gaze_time([look], px_per_deg=58.5).total_s < mouse_time([look], start_xy=(960, 540)).total_s
