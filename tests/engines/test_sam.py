"""The real segment-anything code path with a tiny random SAM saved to a file and loaded back
through the loader users use. Random weights: shapes, plumbing and agreement, never quality."""

import numpy as np
import pytest

pytest.importorskip("segment_anything")
pytest.importorskip("torch")

from gazeseg.core.errors import InputError  # noqa: E402
from gazeseg.core.types import PromptSet  # noqa: E402
from gazeseg.engines.cache import EmbeddingCache  # noqa: E402
from gazeseg.engines.registry import create_engine  # noqa: E402
from gazeseg.io.images import load_image  # noqa: E402

from tiny_models import save_tiny_sam  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "sam_tiny_random.pth")


@pytest.fixture(scope="module")
def image(data_dir):
    return load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")


def test_tiny_sam_embed_predict_through_engine(checkpoint, image):
    engine = create_engine("sam", checkpoint=checkpoint)
    embedding = engine.embed(image)
    assert embedding.payload["features"].shape == (256, 64, 64)
    prompts = PromptSet(points_xy=np.array([[140.0, 200.0]]), labels=np.array([1]))
    result = engine.predict(embedding, prompts)
    assert result.masks.shape == (3, *image.shape[:2]) and result.masks.dtype == bool
    assert result.low_res_logits.shape == (3, 256, 256) and result.scores.shape == (3,)
    single = engine.predict(embedding, prompts, multimask=False)
    assert single.masks.shape[0] == 1
    # Deterministic, and the mask input changes the answer (it is really fed to the decoder).
    np.testing.assert_array_equal(engine.predict(embedding, prompts).low_res_logits, result.low_res_logits)
    fed = engine.predict(embedding, PromptSet(prompts.points_xy, prompts.labels, mask_logits=result.low_res_logits[0] * 5))
    assert not np.allclose(fed.low_res_logits, result.low_res_logits)
    boxed = engine.predict(embedding, PromptSet(box_xyxy=np.array([20.0, 30.0, 250.0, 380.0])), multimask=False)
    assert boxed.masks.shape == (1, *image.shape[:2])


def test_embedding_cache_round_trip(checkpoint, image, tmp_path):
    engine = create_engine("sam", checkpoint=checkpoint)
    first = EmbeddingCache(disk_dir=tmp_path).get_or_embed(engine, image)
    again = EmbeddingCache(disk_dir=tmp_path).get_or_embed(engine, image)
    prompts = PromptSet(points_xy=np.array([[100.0, 100.0]]), labels=np.array([1]))
    np.testing.assert_array_equal(engine.predict(first, prompts).low_res_logits, engine.predict(again, prompts).low_res_logits)


def test_onnx_decoder_matches_pytorch(checkpoint, image, tmp_path):
    pytest.importorskip("onnxruntime")
    import shutil

    from gazeseg.engines.onnx_decoder import export_sam_decoder
    from gazeseg.engines.sam import load_sam

    ckpt = tmp_path / checkpoint.name
    shutil.copy(checkpoint, ckpt)
    torch_engine = create_engine("sam", checkpoint=ckpt)
    export_sam_decoder(load_sam(ckpt), ckpt.with_suffix(".decoder.onnx"))
    onnx_engine = create_engine("sam", checkpoint=ckpt)  # picks the exported decoder up
    assert onnx_engine.onnx is not None and torch_engine.onnx is None
    embedding = torch_engine.embed(image)
    for prompts in (
        PromptSet(points_xy=np.array([[140.0, 200.0]]), labels=np.array([1])),
        PromptSet(points_xy=np.array([[140.0, 200.0], [20.0, 20.0]]), labels=np.array([1, 0])),
    ):
        a = torch_engine.predict(embedding, prompts)
        b = onnx_engine.predict(embedding, prompts)
        np.testing.assert_allclose(a.low_res_logits, b.low_res_logits, atol=1e-3, rtol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        assert np.mean(a.masks == b.masks) > 0.999


def test_bad_checkpoints_are_explained(tmp_path, checkpoint):
    with pytest.raises(InputError, match="no checkpoint"):
        create_engine("sam", checkpoint=tmp_path / "missing.pth")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(checkpoint.read_bytes()[:4096])
    with pytest.raises(InputError, match="truncated"):
        create_engine("sam", checkpoint=truncated)
    import torch

    wrong = tmp_path / "wrong.pth"
    torch.save({"something.else": torch.zeros(3)}, str(wrong))
    with pytest.raises(InputError, match="not a SAM checkpoint"):
        create_engine("sam", checkpoint=wrong)
