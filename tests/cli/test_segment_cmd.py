import numpy as np
import pytest
from PIL import Image

from gazeseg.cli import main
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from gazeseg.io.images import load_mask


@pytest.fixture(scope="module")
def grabcut_object(data_dir):
    return next(o for o in load_dataset(data_dir / "grabcut") if o.name == "189080")


def test_segment_writes_image_sized_mask_and_overlay(tmp_path, grabcut_object, capsys):
    gt, ignore = grabcut_object.load()
    from gazeseg.eval.clicks import interior_point

    x, y = interior_point(gt, ignore)
    out, ov = tmp_path / "mask.png", tmp_path / "overlay.png"
    code = main(["segment", str(grabcut_object.image_path), "--point", f"{x},{y}", "--engine", "classic", "--out", str(out), "--overlay", str(ov)])
    assert code == 0
    mask = load_mask(out)
    assert mask.shape == gt.shape
    assert iou(mask, gt, ignore) > 0.6
    assert Image.open(ov).size == (gt.shape[1], gt.shape[0])
    assert "px in the mask" in capsys.readouterr().out


def test_negative_point_and_box(tmp_path, grabcut_object):
    gt, ignore = grabcut_object.load()
    rows, cols = np.nonzero(gt)
    box = f"{cols.min()},{rows.min()},{cols.max()},{rows.max()}"
    out = tmp_path / "m.png"
    assert main(["segment", str(grabcut_object.image_path), "--box", box, "--engine", "classic", "--out", str(out)]) == 0
    assert iou(load_mask(out), gt, ignore) > 0.6


def test_grayscale_and_16_bit_images(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160)) * 3000).astype(np.uint16)
    img[40:80, 50:110] += 30000
    path = tmp_path / "gray16.png"
    Image.fromarray(img).save(path)
    out = tmp_path / "m.png"
    assert main(["segment", str(path), "--point", "80,60", "--engine", "classic", "--out", str(out)]) == 0
    mask = load_mask(out)
    truth = np.zeros_like(mask)
    truth[40:80, 50:110] = True
    assert iou(mask, truth) > 0.8


@pytest.mark.parametrize(
    "args, message",
    [
        (["--point", "5000,10"], "outside"),
        ([], "no prompt"),
        (["--point", "abc"], "X,Y"),
    ],
)
def test_bad_prompts_are_explained(tmp_path, grabcut_object, capsys, args, message):
    out = tmp_path / "m.png"
    try:
        code = main(["segment", str(grabcut_object.image_path), *args, "--engine", "classic", "--out", str(out)])
    except SystemExit as exit_:  # argparse rejects malformed values itself
        code = exit_.code
    assert code != 0
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_corrupt_images_are_explained(tmp_path, capsys, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    code = main(["segment", str(path), "--point", "1,1", "--engine", "classic", "--out", str(tmp_path / "m.png")])
    assert code == 1
    assert "broken.png" in capsys.readouterr().err
