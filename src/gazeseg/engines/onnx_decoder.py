"""SAM's prompt decoder on ONNX Runtime: the cheap step without PyTorch's per-call overhead.

Export uses the official ``segment_anything.utils.onnx.SamOnnxModel``; the runtime feeds it the
same arrays ``SamPredictor``'s ONNX example does (a padding point labelled -1 when no box).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError, MissingDependencyError


def export_sam_decoder(model, path: Path, *, opset: int = 17) -> Path:  # noqa: ANN001
    import torch
    from segment_anything.utils.onnx import SamOnnxModel

    onnx_model = SamOnnxModel(model, return_single_mask=False)
    embed_dim = model.prompt_encoder.embed_dim
    side = model.prompt_encoder.image_embedding_size
    dummy = {
        "image_embeddings": torch.randn(1, embed_dim, *side, dtype=torch.float),
        "point_coords": torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * side[0], 4 * side[1], dtype=torch.float),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad():
        torch.onnx.export(
            onnx_model, tuple(dummy.values()), str(tmp), export_params=True, verbose=False, opset_version=opset,
            do_constant_folding=True, input_names=list(dummy), output_names=["masks", "iou_predictions", "low_res_masks"],
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, dynamo=False,
        )
    tmp.replace(path)
    return path


class OnnxSamDecoder:
    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise MissingDependencyError("onnxruntime", "onnx", "the ONNX decoder") from error
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise InputError(f"onnx decoder: {path} is not a readable ONNX model ({error}); export it again with `gazeseg models export-onnx`") from None
        self.path = Path(path)

    def run(self, features: np.ndarray, coords: np.ndarray | None, labels: np.ndarray, mask_logits: np.ndarray | None,
            *, multimask: bool) -> tuple[np.ndarray, np.ndarray]:
        """(scores (K,), low-res logits (K, 256, 256)); points only (boxes go through PyTorch)."""
        if coords is None:
            coords = np.zeros((0, 2))
            labels = np.zeros(0)
        pts = np.concatenate([coords, [[0.0, 0.0]]])[None].astype(np.float32)
        lab = np.concatenate([labels, [-1]])[None].astype(np.float32)
        mask = np.zeros((1, 1, 256, 256), np.float32) if mask_logits is None else np.asarray(mask_logits, np.float32)[None, None]
        feeds = {
            "image_embeddings": np.asarray(features, np.float32)[None],
            "point_coords": pts, "point_labels": lab, "mask_input": mask,
            "has_mask_input": np.array([0.0 if mask_logits is None else 1.0], np.float32),
            "orig_im_size": np.array([256, 256], np.float32),
        }
        _, scores, low_res = self.session.run(None, feeds)
        pick = slice(1, None) if multimask else slice(0, 1)
        return scores[0, pick].astype(np.float32), low_res[0, pick].astype(np.float32)
