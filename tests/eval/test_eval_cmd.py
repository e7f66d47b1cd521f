"""``gazeseg eval`` on a tiny dataset folder built from two real images."""

from __future__ import annotations

import json
import shutil

import pytest

from gazeseg.cli import main


@pytest.fixture
def tiny_dataset(data_dir, tmp_path):
    root = tmp_path / "tiny"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem in ("cju160wshltz10993i1gmqxbe", "cju414lf2l1lt0801rl3hjllj"):
        src_img = next((data_dir / "kvasir" / "images").glob(f"{stem}.*"), None)
        src_mask = next((data_dir / "kvasir" / "masks").glob(f"{stem}.*"), None)
        if src_img is None or src_mask is None:
            pytest.skip("expected Kvasir files not present")
        shutil.copy(src_img, root / "images" / src_img.name)
        shutil.copy(src_mask, root / "masks" / src_mask.name)
    return root


def test_eval_writes_report_json_and_plots(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "report"
    code = main([
        "eval", str(tiny_dataset), "--strategy", "gazesam-point", "--strategy", "fixation",
        "--preset", "tobii-pro-nano", "--max-looks", "2", "--examples", "1", "--out", str(out),
    ])
    assert code == 0
    text = (out / "report.md").read_text()
    assert "modelled, not measured on people" in text
    for name in ("iou_curves.png", "iou_time.png", "time_per_object.png", "examples.png"):
        assert (out / name).stat().st_size > 1000
    data = json.loads((out / "report.json").read_text())
    assert set(data["summary"]) == {"mouse", "gazesam-point@tobii-pro-nano", "fixation@tobii-pro-nano"}
    for method, rows in data["rows"].items():
        assert len(rows) == 2
        assert all(0.0 <= v <= 1.0 for r in rows for v in r["ious"])
        assert all(r["time"]["total_s"] > 2.0 for r in rows), method  # at least search + check
    assert "report:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "unknown name 'nope'"),
        (["--limit", "0"], "--limit"),
        (["--stop-iou", "1.5"], "--stop-iou"),
    ],
    ids=["unknown-strategy", "zero-limit", "bad-stop-iou"],
)
def test_eval_bad_arguments_give_clear_errors(tiny_dataset, tmp_path, capsys, args, message):
    assert main(["eval", str(tiny_dataset), "--out", str(tmp_path / "x"), *args]) == 1
    assert message in capsys.readouterr().err


def test_eval_missing_folder(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 1
    assert "no folder" in capsys.readouterr().err
