"""Our online I-DT agrees with pymovements' offline I-DT on REAL 1000 Hz reading data."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("pymovements")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from gaze_agreement import compare  # noqa: E402


def test_idt_matches_pymovements_on_real_gaze(data_dir):
    result = compare(data_dir / "gaze_raw" / "data" / "trial_0_1.csv")
    idt = result["idt"]
    assert abs(idt["ours"] - idt["pymovements"]) <= 2  # measured: identical counts
    assert idt["cohen_kappa"] > 0.9  # measured 0.96
    assert result["ivt"]["cohen_kappa"] > 0.6  # velocity estimates differ (central vs successive differences)
