import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples
from gazeseg.gaze.recording import load_recording, read_fixation_csv, read_gaze_csv, read_raw_pixels, read_tobii_tsv, write_gaze_csv


def test_own_format_round_trips(tmp_path):
    n = 50
    rng = np.random.default_rng(0)
    xy = rng.random((n, 2))
    valid = rng.random(n) > 0.1
    xy[~valid] = np.nan
    s = GazeSamples(np.cumsum(rng.random(n)), xy, valid, "display_norm", left_xy=rng.random((n, 2)), pupil_mm=rng.random(n) + 3)
    back = read_gaze_csv(write_gaze_csv(s, tmp_path / "rec.gaze.csv"))
    np.testing.assert_array_equal(back.t_s, s.t_s)
    np.testing.assert_array_equal(back.valid, s.valid)
    np.testing.assert_array_equal(back.xy[valid], s.xy[valid])
    np.testing.assert_array_equal(back.left_xy, s.left_xy)
    assert back.right_xy is None and back.frame == "display_norm"


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("# gazeseg-gaze v1 frame=display_norm\nt_s,x,y,valid\n0.0,0.5,0.5,1\n0.1,abc,0.5,1\n")
    with pytest.raises(InputError, match="line 4"):
        read_gaze_csv(path)
    path.write_text("# gazeseg-gaze v1 frame=display_norm\nt_s,x,y,valid\n0.0,0.5,0.5\n")
    with pytest.raises(InputError, match="line 3: expected 4 fields"):
        read_gaze_csv(path)


def test_real_raw_file_and_autodetect(data_dir):
    path = data_dir / "gaze_raw" / "data" / "trial_0_2.csv"
    s = read_raw_pixels(path, screen_w_px=1280, screen_h_px=1024, origin="lower left")
    assert s.frame == "screen_px" and len(s) > 1000
    assert np.nanmedian(np.diff(s.t_s)) == pytest.approx(0.001)
    # The real file marks lost samples with -32768: they must come out invalid, the rest on screen.
    assert 0 < (~s.valid).sum() < 0.2 * len(s)
    assert np.nanmin(s.xy[s.valid, 1]) >= -102 and np.nanmax(s.xy[s.valid, 1]) <= 1127
    assert len(load_recording(path)) == len(s)


def test_tobii_pro_lab_export(tmp_path):
    path = tmp_path / "export.tsv"
    path.write_text(
        "Recording timestamp\tGaze point X\tGaze point Y\tValidity left\n"
        "1000000\t960\t540\tValid\n1016667\t\t\tInvalid\n1033333\t970\t545\tValid\n"
    )
    s = read_tobii_tsv(path)
    assert s.frame == "screen_px" and s.valid.tolist() == [True, False, True]
    assert s.t_s[1] - s.t_s[0] == pytest.approx(0.016667, abs=1e-5)
    assert len(load_recording(path)) == 3


def test_fixation_list_in_ms(tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text("x,y,duration\n100,200,250\n150,210,300\n")
    fixations = read_fixation_csv(path)
    assert [f.duration_s for f in fixations] == pytest.approx([0.25, 0.3])
    assert fixations[1].start_s == pytest.approx(0.25)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="x and y"):
        read_fixation_csv(path)


def test_unknown_format_is_explained(tmp_path):
    path = tmp_path / "what.txt"
    path.write_text("hello world\n")
    with pytest.raises(InputError, match="unknown gaze recording format"):
        load_recording(path)
    with pytest.raises(InputError, match="no file"):
        load_recording(tmp_path / "missing.csv")


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_crashes_on_garbage(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("g") / "x.csv"
    path.write_text("# gazeseg-gaze v1 frame=display_norm\n" + text)
    try:
        read_gaze_csv(path)
    except InputError:
        pass


def test_gaze_cli_simulate_info_fixations(tmp_path, data_dir, capsys):
    from gazeseg.cli import main

    image = data_dir / "grabcut" / "data_GT" / "teddy.jpg"
    rec = tmp_path / "rec.csv"
    assert main(["gaze", "simulate", str(image), "--look", "100,100", "--look", "200,300", "--out", str(rec)]) == 0
    assert main(["gaze", "info", str(rec)]) == 0
    assert "60 Hz" in capsys.readouterr().out
    out = tmp_path / "fix.csv"
    assert main(["gaze", "fixations", str(rec), "--out", str(out)]) == 0
    rows = out.read_text().strip().splitlines()
    assert rows[0].startswith("start_s") and len(rows) >= 2
    assert main(["gaze", "info", str(tmp_path / "missing.csv")]) == 1
