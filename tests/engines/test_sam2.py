"""The real SAM 2 code path (official package, hydra configs, SAM2ImagePredictor) with a tiny
random Hiera saved in the official checkpoint layout and loaded through the users' loader."""

import numpy as np
import pytest

pytest.importorskip("sam2")
pytest.importorskip("torch")

from gazeseg.core.errors import InputError  # noqa: E402
from gazeseg.core.types import PromptSet  # noqa: E402
from gazeseg.engines.cache import EmbeddingCache  # noqa: E402
from gazeseg.engines.registry import create_engine  # noqa: E402
from gazeseg.io.images import load_image  # noqa: E402

from tiny_models import PROMPTS, save_tiny_sam, save_tiny_sam2  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_sam2(tmp_path_factory.mktemp("sam2") / "sam2_tiny_random.pt")


def test_tiny_sam2_through_engine_and_cache(checkpoint, data_dir, tmp_path):
    image = load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")
    engine = create_engine("sam2", checkpoint=checkpoint)
    embedding = EmbeddingCache(disk_dir=tmp_path).get_or_embed(engine, image)
    assert embedding.payload["image_embed"].shape == (256, 64, 64)
    prompts = PromptSet(points_xy=np.array([[140.0, 200.0]]), labels=np.array([1]))
    result = engine.predict(embedding, prompts)
    assert result.masks.shape == (3, *image.shape[:2]) and result.low_res_logits.shape == (3, 256, 256)
    reloaded = EmbeddingCache(disk_dir=tmp_path).get_or_embed(engine, image)
    np.testing.assert_allclose(engine.predict(reloaded, prompts).low_res_logits, result.low_res_logits, atol=1e-5)
    fed = engine.predict(embedding, PromptSet(prompts.points_xy, prompts.labels, mask_logits=result.low_res_logits[0] * 5), multimask=False)
    assert fed.masks.shape == (1, *image.shape[:2])
    boxed = engine.predict(embedding, PromptSet(box_xyxy=np.array([20.0, 30.0, 250.0, 380.0])), multimask=False)
    assert boxed.masks.shape[0] == 1


def official_predict(engine, embedding, prompts, multimask):
    """The untouched SAM2ImagePredictor on the same features."""
    import torch

    p = embedding.payload
    predictor = engine.predictor
    with torch.inference_mode():
        predictor._features = {"image_embed": torch.as_tensor(p["image_embed"])[None],
                               "high_res_feats": [torch.as_tensor(p["high_res_0"])[None], torch.as_tensor(p["high_res_1"])[None]]}
        predictor._orig_hw = [tuple(embedding.image_hw)]
        predictor._is_image_set = True
        return predictor.predict(point_coords=prompts.points_xy if len(prompts.points_xy) else None,
                                 point_labels=prompts.labels if len(prompts.points_xy) else None, box=prompts.box_xyxy,
                                 mask_input=None if prompts.mask_logits is None else prompts.mask_logits[None], multimask_output=multimask)


def assert_same_as_official(engine, embedding, prompts, multimask, atol):
    masks, scores, low_res = official_predict(engine, embedding, prompts, multimask)
    got = engine.predict(embedding, prompts, multimask=multimask)
    assert got.low_res_logits.shape == low_res.shape and got.masks.shape == masks.shape
    np.testing.assert_allclose(got.low_res_logits, low_res, atol=atol * np.abs(low_res).max())
    np.testing.assert_allclose(got.scores, scores, atol=1e-4)
    assert np.mean(got.masks == masks) > 0.999


def test_fast_decoder_equals_the_official_predictor(checkpoint, data_dir):
    image = load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")
    engine = create_engine("sam2", checkpoint=checkpoint)
    assert engine.onnx is None
    embedding = engine.embed(image)
    for prompts in PROMPTS.values():
        for multimask in (True, False):
            assert_same_as_official(engine, embedding, prompts, multimask, atol=1e-5)
    previous = engine.predict(embedding, PROMPTS["point"], multimask=False).low_res_logits[0]
    assert_same_as_official(engine, embedding, PromptSet(PROMPTS["points"].points_xy, PROMPTS["points"].labels, mask_logits=previous * 5), False, atol=1e-5)


def test_onnx_decoder_is_exported_and_picked_up(checkpoint, data_dir, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import shutil

    from gazeseg.cli import main

    image = load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")
    ckpt = tmp_path / checkpoint.name
    shutil.copy(checkpoint, ckpt)
    assert main(["models", "export-onnx", "--checkpoint", str(ckpt)]) == 0
    assert "sam2 prompt decoder" in capsys.readouterr().out
    engine = create_engine("sam2", checkpoint=ckpt)
    assert engine.onnx is not None and engine.onnx.graph == "fast"
    embedding = engine.embed(image)
    for prompts in PROMPTS.values():
        assert_same_as_official(engine, embedding, prompts, True, atol=1e-3)
    assert_same_as_official(engine, embedding, PROMPTS["points"], False, atol=1e-3)


def test_wrong_family_is_explained(tmp_path):
    sam_file = save_tiny_sam(tmp_path / "sam_tiny.pth")
    with pytest.raises(InputError, match="not a SAM 2 checkpoint"):
        create_engine("sam2", checkpoint=sam_file)


def test_video_predictor_carries_a_mask_to_the_next_slices(checkpoint, data_dir):
    """SAM 2's video predictor on BraTS slices (random weights: plumbing, not quality)."""
    import nibabel as nib

    from gazeseg.io.volumes import load_volume, window_to_uint8

    volume = load_volume(data_dir / "brats" / "brats_2013_pat0001_1" / "Flair_subtrMeanDivStd.nii.gz")
    truth = np.asarray(nib.load(str(data_dir / "brats" / "brats_2013_pat0001_1" / "OTMultiClass.nii.gz")).dataobj) > 0
    z = int(np.argmax(truth.sum(axis=(0, 1))))
    frames = [np.repeat(window_to_uint8(volume.slice(k), modality=volume.modality)[..., None], 3, axis=2) for k in (z, z + 1, z + 2)]
    engine = create_engine("sam2", checkpoint=checkpoint)
    masks = engine.propagate(frames, truth[:, :, z].T)
    assert len(masks) == 3 and all(m.shape == frames[0].shape[:2] and m.dtype == bool for m in masks)
    np.testing.assert_array_equal(masks[0], truth[:, :, z].T)
