"""The int8 preview decoder (issue 8): our quantization pass, the copy `gazeseg models export-onnx`
writes next to the exact graph, and who uses which. Tiny random SAM / SAM 2 from the official
classes (their prompt decoders have the real size), so this checks numbers and plumbing, not
mask quality."""

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from gazeseg.cli import main  # noqa: E402
from gazeseg.core.types import GazeSamples  # noqa: E402
from gazeseg.engines.onnx_int8 import PREVIEW_TOLERANCE, int8_path_for, quantize_decoder  # noqa: E402
from gazeseg.engines.registry import create_engine  # noqa: E402
from gazeseg.engines.sam_fast_decoder import PADDING_LOGIT  # noqa: E402
from gazeseg.io.images import load_image  # noqa: E402

from tiny_models import PROMPTS, save_tiny_sam, save_tiny_sam2  # noqa: E402

pytestmark = pytest.mark.torch


def _products_graph(path, rng):
    """Three products of the shapes the SAM decoder has: activation x small activation, a
    constant weight with bias, and a small matrix times a transposed large one."""
    from onnx import TensorProto, helper, numpy_helper

    weight = rng.normal(size=(256, 128)).astype(np.float32)
    bias = rng.normal(size=128).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "m"], ["y_left"], name="left"),
        helper.make_node("Gemm", ["x", "w", "b"], ["y_weight"], name="weight"),
        helper.make_node("Transpose", ["x"], ["x_t"], perm=[1, 0], name="t"),
        helper.make_node("MatMul", ["q", "x_t"], ["y_turned"], name="turned"),
        helper.make_node("MatMul", ["q", "m"], ["y_small"], name="small"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4096, 256]),
              helper.make_tensor_value_info("m", TensorProto.FLOAT, [256, 96]),
              helper.make_tensor_value_info("q", TensorProto.FLOAT, [96, 256])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y_left", "y_weight", "y_turned", "y_small")]
    graph = helper.make_graph(nodes, "products", inputs, outputs, [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weight, bias


def test_the_pass_quantizes_big_products_within_two_percent(tmp_path):
    rng = np.random.default_rng(0)
    weight, bias = _products_graph(tmp_path / "g.onnx", rng)
    feeds = {"x": rng.normal(size=(4096, 256)).astype(np.float32), "m": rng.normal(size=(256, 96)).astype(np.float32),
             "q": rng.normal(size=(96, 256)).astype(np.float32)}
    done = quantize_decoder(tmp_path / "g.onnx", tmp_path / "g.int8.onnx", feeds)
    assert {p.node: p.how for p in done} == {"left": "left", "weight": "weight", "turned": "turned"}  # "small": 2.4M MACs, kept
    quantized = onnx.load(str(tmp_path / "g.int8.onnx"))
    ops = [n.op_type for n in quantized.graph.node]
    assert ops.count("MatMulInteger") == 3 and ops.count("MatMul") == 1
    assert "t" not in {n.name for n in quantized.graph.node}  # the transpose the turned product replaced is gone
    got = dict(zip(["y_left", "y_weight", "y_turned", "y_small"], ort.InferenceSession(str(tmp_path / "g.int8.onnx")).run(None, feeds)))
    want = {"y_left": feeds["x"] @ feeds["m"], "y_weight": feeds["x"] @ weight + bias, "y_turned": feeds["q"] @ feeds["x"].T,
            "y_small": feeds["q"] @ feeds["m"]}
    for name, value in want.items():
        error = np.abs(got[name] - value).max() / np.abs(value).max()
        assert error < (1e-5 if name == "y_small" else 0.02), (name, error)
        assert name == "y_small" or error > 1e-4  # really int8, not the fp32 product


def test_nothing_is_written_when_no_product_is_large(tmp_path):
    rng = np.random.default_rng(1)
    _products_graph(tmp_path / "g.onnx", rng)
    feeds = {"x": rng.normal(size=(4096, 256)).astype(np.float32), "m": rng.normal(size=(256, 96)).astype(np.float32),
             "q": rng.normal(size=(96, 256)).astype(np.float32)}
    assert quantize_decoder(tmp_path / "g.onnx", tmp_path / "g.int8.onnx", feeds, min_macs=10**12) == []
    assert not (tmp_path / "g.int8.onnx").exists()


@pytest.fixture(scope="module")
def sam_exported(tmp_path_factory):
    pytest.importorskip("segment_anything")
    ckpt = save_tiny_sam(tmp_path_factory.mktemp("sam_int8") / "sam_tiny_random.pth")
    assert main(["models", "export-onnx", "--checkpoint", str(ckpt)]) == 0
    return ckpt


@pytest.fixture(scope="module")
def image(data_dir):
    return load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")


def _relative_error(preview: np.ndarray, exact: np.ndarray) -> float:
    inside = exact != PADDING_LOGIT
    return float(np.abs(preview - exact)[inside].mean() / exact[inside].std())


def test_export_writes_the_int8_copy_and_only_previews_use_it(sam_exported, image, monkeypatch):
    fp32 = sam_exported.with_suffix(".decoder.onnx")
    assert int8_path_for(fp32).is_file() and int8_path_for(fp32).name == "sam_tiny_random.decoder.int8.onnx"
    engine = create_engine("sam", checkpoint=sam_exported)
    assert engine.onnx is not None and engine.preview_onnx is not None
    embedding = engine.embed(image)
    for name, prompts in PROMPTS.items():
        for multimask in (True, False):
            exact_iou, exact = engine.predict_logits(embedding, prompts, multimask=multimask)
            preview_iou, preview = engine.predict_logits(embedding, prompts, multimask=multimask, preview=True)
            error = _relative_error(preview, exact)
            assert 1e-5 < error < PREVIEW_TOLERANCE, (name, multimask, error)
            np.testing.assert_allclose(preview_iou, exact_iou, atol=0.05)
    runs = {"exact": 0, "int8": 0}
    for key, decoder in (("exact", engine.onnx), ("int8", engine.preview_onnx)):
        monkeypatch.setattr(decoder, "run", lambda feeds, _run=decoder.run, _key=key: runs.__setitem__(_key, runs[_key] + 1) or _run(feeds))
    engine.predict(embedding, PROMPTS["points"])  # masks people keep: the exact graph
    assert runs == {"exact": 1, "int8": 0}


def test_the_live_loop_previews_with_int8_and_accepts_exactly(sam_exported, image, data_dir, monkeypatch):
    from gazeseg.eval.clicks import interior_point
    from gazeseg.realtime import LiveSegmenter

    gt = load_image(data_dir / "grabcut" / "boundary_GT" / "teddy.bmp") > 200
    gt = gt[..., 0] if gt.ndim == 3 else gt
    centre = tuple(float(v) for v in interior_point(gt))
    engine = create_engine("sam", checkpoint=sam_exported)
    runs = {"exact": 0, "int8": 0}
    for key, decoder in (("exact", engine.onnx), ("int8", engine.preview_onnx)):
        monkeypatch.setattr(decoder, "run", lambda feeds, _run=decoder.run, _key=key: runs.__setitem__(_key, runs[_key] + 1) or _run(feeds))
    with LiveSegmenter(engine, px_per_deg=29.0) as live:
        live.set_image("teddy", image)
        gaze_xy = np.asarray(centre) + np.random.default_rng(0).normal(0, 1.0, (36, 2))
        live.push_gaze(GazeSamples(np.arange(36) / 120, gaze_xy, np.ones(36, bool), frame="image_px"))
        assert live.wait_idle(60) and live.stats.errors == 0 and live.poll() is not None
        assert runs == {"exact": 0, "int8": 1}
        assert live.accept().shape == gt.shape
        assert runs == {"exact": 1, "int8": 1}


def test_sam2_int8_copy_is_written_and_close(tmp_path, data_dir):
    pytest.importorskip("sam2")
    ckpt = save_tiny_sam2(tmp_path / "sam2_tiny_random.pt")
    assert main(["models", "export-onnx", "--checkpoint", str(ckpt)]) == 0
    engine = create_engine("sam2", checkpoint=ckpt)
    assert engine.preview_onnx is not None
    frame = load_image(data_dir / "grabcut" / "data_GT" / "teddy.jpg")
    embedding = engine.embed(frame)
    for prompts in (PROMPTS["point"], PROMPTS["points"]):
        multimask = len(prompts.points_xy) == 1
        _, exact = engine.predict_logits(embedding, prompts, multimask=multimask)
        _, preview = engine.predict_logits(embedding, prompts, multimask=multimask, preview=True)
        assert 1e-5 < _relative_error(preview, exact) < PREVIEW_TOLERANCE


def test_export_without_int8(tmp_path, capsys):
    pytest.importorskip("segment_anything")
    ckpt = save_tiny_sam(tmp_path / "sam_tiny_random.pth")
    assert main(["models", "export-onnx", "--checkpoint", str(ckpt), "--no-int8"]) == 0
    assert not int8_path_for(ckpt.with_suffix(".decoder.onnx")).exists()
    assert create_engine("sam", checkpoint=ckpt).preview_onnx is None
