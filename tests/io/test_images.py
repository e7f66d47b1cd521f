import numpy as np
import pytest
from PIL import Image

from gazeseg.core.errors import InputError
from gazeseg.io.images import load_image, load_mask, overlay, save_mask, to_rgb_uint8


def test_loads_real_jpeg_and_mask(data_dir):
    image = load_image(data_dir / "grabcut" / "data_GT" / "106024.jpg")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    gt = load_image(data_dir / "grabcut" / "boundary_GT" / "106024.bmp")
    assert gt.shape[:2] == image.shape[:2]
    assert set(np.unique(gt)) <= {0, 128, 255}


def test_sixteen_bit_and_gray_become_rgb8(tmp_path):
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 7).astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    loaded = load_image(path)
    assert loaded.dtype == np.uint16 and loaded.shape == (64, 64)
    rgb = to_rgb_uint8(loaded)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] < 5 and rgb[-1, -1, 0] > 250  # stretched to the full 8-bit range


@pytest.mark.parametrize(
    "content, message",
    [(b"", "cannot be decoded"), (b"\x89PNG\r\n\x1a\nthis is not a png", "cannot be decoded")],
    ids=["empty", "truncated-png"],
)
def test_corrupt_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_image(path)


def test_missing_file_and_bomb_guard(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        load_image(tmp_path / "nope.png")
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(InputError, match="exceeds the limit"):
        load_image(path, max_pixels=1_000_000)


def test_mask_round_trip_and_overlay(tmp_path):
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:25] = True
    path = save_mask(mask, tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask(path), mask)
    shown = overlay(np.zeros((20, 30, 3), np.uint8), mask, points_xy=np.array([[10, 7]]))
    assert shown.shape == (20, 30, 3) and shown[7, 15].any()


def test_to_rgb_rejects_bad_shapes():
    with pytest.raises(InputError, match="channels"):
        to_rgb_uint8(np.zeros((4, 4, 2)))
    with pytest.raises(InputError, match="NaN"):
        to_rgb_uint8(np.full((4, 4), np.nan))
