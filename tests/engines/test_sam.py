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

from tiny_models import PROMPTS, save_tiny_sam  # noqa: E402

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


def official_decoder(engine, embedding, prompts, multimask):
    """The untouched segment-anything prompt encoder + MaskDecoder, as SamPredictor runs them."""
    import torch

    coords, box = engine._prompt_arrays(embedding, prompts)
    model = engine.model
    with torch.inference_mode():
        points = None if coords is None else (torch.as_tensor(coords, dtype=torch.float32)[None], torch.as_tensor(prompts.labels)[None])
        boxes = None if box is None else torch.as_tensor(box, dtype=torch.float32)
        masks = None if prompts.mask_logits is None else torch.as_tensor(prompts.mask_logits, dtype=torch.float32)[None, None]
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        low_res, iou = model.mask_decoder(image_embeddings=torch.as_tensor(embedding.payload["features"])[None],
                                          image_pe=model.prompt_encoder.get_dense_pe(), sparse_prompt_embeddings=sparse,
                                          dense_prompt_embeddings=dense, multimask_output=multimask)
    return iou[0].numpy(), low_res[0].numpy()


def assert_same_decoding(engine, embedding, prompts, multimask, atol):
    """Whole frame: equal everywhere. Preview: equal on every logit SAM's upsampling of the image
    reads, and the padding (a third of a 3:2 photo's frame) is not computed."""
    from gazeseg.engines.sam_fast_decoder import PADDING_LOGIT

    want_iou, want = official_decoder(engine, embedding, prompts, multimask)
    iou, got = engine.predict_logits(embedding, prompts, multimask=multimask, whole_frame=True)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol * np.abs(want).max())
    np.testing.assert_allclose(iou, want_iou, atol=1e-4)
    assert np.mean((got > 0) == (want > 0)) > 0.999
    preview_iou, preview = engine.predict_logits(embedding, prompts, multimask=multimask)
    np.testing.assert_array_equal(preview_iou, iou)
    ih, iw = (int(v) // 4 + 1 for v in embedding.payload["input_hw"])  # rows/cols read by the 4x bilinear upsampling
    np.testing.assert_allclose(preview[:, :ih, :iw], want[:, :ih, :iw], atol=atol * np.abs(want).max())
    if engine.onnx is None or engine.onnx.graph == "fast":  # SAM's own ONNX graph computes everything
        assert (preview[:, ih + 16:, :] == PADDING_LOGIT).all() and (preview[:, :, iw + 16:] == PADDING_LOGIT).all()
        assert ih + 16 < 256 or iw + 16 < 256  # the test image is not square: some padding was skipped


def test_fast_decoder_equals_the_official_mask_decoder(checkpoint, image):
    """The re-associated decoder is the same function as SAM's, for every kind of prompt."""
    engine = create_engine("sam", checkpoint=checkpoint)
    assert engine.onnx is None  # PyTorch fast path
    embedding = engine.embed(image)
    for name, prompts in PROMPTS.items():
        for multimask in (True, False):
            assert_same_decoding(engine, embedding, prompts, multimask, atol=1e-5)
    _, previous = engine.predict_logits(embedding, PROMPTS["point"], multimask=False)
    with_mask = PromptSet(PROMPTS["points"].points_xy, PROMPTS["points"].labels, mask_logits=previous[0] * 5)
    assert_same_decoding(engine, embedding, with_mask, False, atol=1e-5)


@pytest.mark.parametrize("graph", ["fast", "official"])
def test_onnx_decoder_matches_pytorch(checkpoint, image, tmp_path, graph):
    pytest.importorskip("onnxruntime")
    import shutil

    from gazeseg.engines.onnx_decoder import export_sam_decoder
    from gazeseg.engines.sam import load_sam

    ckpt = tmp_path / checkpoint.name
    shutil.copy(checkpoint, ckpt)
    torch_engine = create_engine("sam", checkpoint=ckpt)
    export_sam_decoder(load_sam(ckpt), ckpt.with_suffix(".decoder.onnx"), graph=graph)
    onnx_engine = create_engine("sam", checkpoint=ckpt)  # picks the exported decoder up
    assert onnx_engine.onnx is not None and onnx_engine.onnx.graph == graph and torch_engine.onnx is None
    embedding = torch_engine.embed(image)
    for prompts in PROMPTS.values():
        assert_same_decoding(onnx_engine, embedding, prompts, True, atol=1e-3)
        a = torch_engine.predict(embedding, prompts)
        b = onnx_engine.predict(embedding, prompts)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        assert np.mean(a.masks == b.masks) > 0.999
    _, previous = onnx_engine.predict_logits(embedding, PROMPTS["point"], multimask=False)
    assert_same_decoding(onnx_engine, embedding, PromptSet(PROMPTS["point"].points_xy, PROMPTS["point"].labels, mask_logits=previous[0] * 5), False, atol=1e-3)


def test_a_foreign_onnx_file_is_refused(checkpoint, tmp_path):
    onnx = pytest.importorskip("onnx")
    import shutil

    ckpt = tmp_path / checkpoint.name
    shutil.copy(checkpoint, ckpt)
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(ckpt.with_suffix(".decoder.onnx")))
    with pytest.raises(InputError, match="not a SAM prompt decoder"):
        create_engine("sam", checkpoint=ckpt)


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
